// :app — the officers' app: enrollment (pramaan://enroll link or QR code), the
// confirmation of official email accounts and group handles, the status screen with
// "Check in now", and the WorkManager periodic check-in. UI in Jetpack Compose (Material 3).
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    // R lives beside the activities (gov.gujarat.pramaan.app.R); the application id
    // stays gov.gujarat.pramaan.
    namespace = "gov.gujarat.pramaan.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "gov.gujarat.pramaan"
        // 28 (Android 9): StrongBox Keymaster and PackageManager.GET_SIGNING_CERTIFICATES
        // (signing-certificate history, key rotation) both arrive in API 28; Key
        // Attestation itself needs 24. See ../README.md.
        minSdk = 28
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // The ABIs build-rust.sh builds libpramaan_ffi.so for.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    sourceSets {
        getByName("main") {
            java.srcDirs("src/main/kotlin")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }

    buildFeatures {
        compose = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":pramaan"))
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.ktx)
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.work.runtime.ktx)
    implementation(libs.androidx.camera.camera2)
    implementation(libs.androidx.camera.lifecycle)
    implementation(libs.androidx.camera.view)
    implementation(libs.zxing.core)
    implementation(libs.kotlinx.coroutines.android)
}
