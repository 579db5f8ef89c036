// The Pramaan Android project: `:pramaan` (the core's Kotlin bindings, JNA and the
// per-ABI libpramaan_ffi.so, plus the platform and plain-Kotlin logic) and `:app` (the
// officers' app). Run ./build-rust.sh first: it makes the bindings and the .so files.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "pramaan-android"
include(":pramaan", ":app")
