// :pramaan — the phone library: the core's generated Kotlin bindings
// (src/main/kotlin/gov/gujarat/pramaan/pramaan_core.kt) and libpramaan_ffi.so per ABI
// (src/main/jniLibs/<abi>/), both made by ../build-rust.sh; JNA, through which the
// bindings call the .so; the Android-API adapters (platform/) and the plain-Kotlin logic
// (logic/, also compiled and tested on the JVM by tests/tests/android_logic.rs).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "gov.gujarat.pramaan.lib"
    compileSdk = 35

    defaultConfig {
        // See ../README.md: Keystore attestation with StrongBox and
        // GET_SIGNING_CERTIFICATES both need API 28.
        minSdk = 28
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets {
        getByName("main") {
            java.srcDirs("src/main/kotlin")
        }
        getByName("test") {
            java.srcDirs("src/test/kotlin")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

// The bindings are generated: fail early with the fix rather than with 200 unresolved names.
val checkBindings by tasks.registering {
    val bindings = file("src/main/kotlin/gov/gujarat/pramaan/pramaan_core.kt")
    doLast {
        check(bindings.exists()) { "missing ${bindings.path}: run ./build-rust.sh (or ./build-rust.sh --bindings-only)" }
    }
}
tasks.named("preBuild") { dependsOn(checkBindings) }

dependencies {
    // `api`: the app implements the bindings' Signer / DeviceFacts interfaces, which
    // mention JNA types only internally, but the bindings' classes load through JNA.
    api("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    implementation(libs.androidx.core.ktx)
    // The JVM tests are plain `main` programs (see src/test/kotlin); Gradle compiles them
    // with kotlin.test. They are run by the Rust harness against the host-built core.
    testImplementation(kotlin("test"))
}
