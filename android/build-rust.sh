#!/usr/bin/env bash
# Builds the phone library for the Android app and generates its Kotlin bindings:
#   1. libpramaan_ffi.so for arm64-v8a, armeabi-v7a and x86_64 (cargo-ndk, release) into
#      pramaan/src/main/jniLibs/<abi>/;
#   2. the Kotlin bindings (uniffi-bindgen in library mode, from a host build of the same
#      crate) into pramaan/src/main/kotlin/gov/gujarat/pramaan/pramaan_core.kt.
# Both outputs are build products (gitignored). Run from anywhere:
#   android/build-rust.sh                  # both steps (needs cargo-ndk and the NDK)
#   android/build-rust.sh --bindings-only  # step 2 only (no NDK needed)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
abis=(arm64-v8a armeabi-v7a x86_64)
rust_targets=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android)
# The app's minSdk (app/build.gradle.kts): the NDK API level the library links against.
min_sdk=28

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
    printf 'build-rust.sh: %s\n' "$*" >&2
    exit 1
}

bindings_only=false
for arg in "$@"; do
    case "$arg" in
        --bindings-only) bindings_only=true ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust from https://rustup.rs"

build_android_libraries() {
    if ! cargo ndk --version >/dev/null 2>&1; then
        die "cargo-ndk is missing: install it with 'cargo install cargo-ndk' (or run with --bindings-only)"
    fi
    local ndk="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
    if [[ -z "$ndk" && -n "${ANDROID_HOME:-}" && -d "$ANDROID_HOME/ndk" ]]; then
        # The newest side-by-side NDK of the SDK (what Android Studio's SDK Manager installs).
        ndk="$(find "$ANDROID_HOME/ndk" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n 1)"
    fi
    if [[ -z "$ndk" || ! -d "$ndk" ]]; then
        die "no Android NDK: install one (Android Studio > SDK Manager > SDK Tools > NDK, or 'sdkmanager \"ndk;27.2.12479018\"') and set ANDROID_NDK_HOME to it"
    fi
    export ANDROID_NDK_HOME="$ndk"
    if command -v rustup >/dev/null 2>&1; then
        local installed missing=()
        installed="$(rustup target list --installed)"
        for t in "${rust_targets[@]}"; do
            grep -qx "$t" <<<"$installed" || missing+=("$t")
        done
        if ((${#missing[@]} > 0)); then
            die "missing Rust targets: run 'rustup target add ${missing[*]}'"
        fi
    fi
    local args=()
    for abi in "${abis[@]}"; do
        args+=(-t "$abi")
    done
    echo "==> libpramaan_ffi.so for ${abis[*]} (NDK $ndk, API $min_sdk)"
    (cd "$root" && cargo ndk "${args[@]}" --platform "$min_sdk" \
        -o "$here/pramaan/src/main/jniLibs" build -p pramaan-ffi --release)
    for abi in "${abis[@]}"; do
        [[ -f "$here/pramaan/src/main/jniLibs/$abi/libpramaan_ffi.so" ]] ||
            die "cargo ndk did not produce jniLibs/$abi/libpramaan_ffi.so"
    done
}

generate_bindings() {
    local target_dir="${CARGO_TARGET_DIR:-$root/target}"
    local ext=so
    [[ "$(uname -s)" == Darwin ]] && ext=dylib
    echo "==> host build of pramaan-ffi and uniffi-bindgen"
    (cd "$root" && cargo build -q -p pramaan-ffi --features bindgen --lib --bin uniffi-bindgen)
    local lib="$target_dir/debug/libpramaan_ffi.$ext"
    [[ -f "$lib" ]] || die "host library $lib not found (is CARGO_TARGET_DIR set as for the build?)"
    local out="$here/pramaan/src/main/kotlin"
    echo "==> Kotlin bindings into ${out#"$root"/}"
    (cd "$root" && "$target_dir/debug/uniffi-bindgen" generate --library "$lib" \
        --language kotlin --no-format --out-dir "$out")
    [[ -f "$out/gov/gujarat/pramaan/pramaan_core.kt" ]] ||
        die "uniffi-bindgen did not write gov/gujarat/pramaan/pramaan_core.kt"
}

if ! $bindings_only; then
    build_android_libraries
fi
generate_bindings
echo "==> done; now: cd android && gradle :app:assembleDebug"
