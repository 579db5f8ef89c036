#!/usr/bin/env bash
# Builds ios/PramaanFFI.xcframework (the Rust core as a static library for iPhone and the
# simulators, with the C header and module map of the generated bindings) and the Swift
# bindings ios/Sources/PramaanCore/PramaanCore.swift. Both are build output: gitignored.
#
#   ios/build-xcframework.sh                  # macOS with Xcode: everything
#   ios/build-xcframework.sh --bindings-only  # any host (Linux too): the Swift bindings only
#
# The bindings are generated in uniffi's library mode from the host's debug build of
# pramaan-ffi (the same source as the iOS slices, so the same interface and checksums;
# the release profile strips symbols, which library mode reads). CARGO_TARGET_DIR is
# honoured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
# The app's iOS floor (Package.swift, README): the slices are built for it too.
export IPHONEOS_DEPLOYMENT_TARGET=16.0

usage() {
    cat <<EOF
usage: $0 [--bindings-only]
  (no option)       build the iOS slices and ios/PramaanFFI.xcframework, then the Swift
                    bindings (macOS with Xcode and the Rust iOS targets)
  --bindings-only   build pramaan-ffi for this host and generate the Swift bindings into
                    ios/Sources/PramaanCore/ (works on Linux)
EOF
}

die() {
    echo "build-xcframework.sh: $*" >&2
    exit 1
}

bindings_only=false
case "${1:-}" in
"") ;;
--bindings-only) bindings_only=true ;;
-h | --help)
    usage
    exit 0
    ;;
*)
    usage >&2
    exit 2
    ;;
esac
[[ $# -le 1 ]] || {
    usage >&2
    exit 2
}

command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs"

# Generates PramaanCore.swift into Sources/PramaanCore/ and the C header and module map
# into $1/PramaanCoreFFI/ (the xcframework's Headers: one directory per module, so that
# the module map does not collide with another xcframework's in the build products).
generate_bindings() {
    local headers="$1"
    local host_lib
    case "$(uname -s)" in
    Darwin) host_lib="$target_dir/debug/libpramaan_ffi.dylib" ;;
    *) host_lib="$target_dir/debug/libpramaan_ffi.so" ;;
    esac
    echo "==> host build of pramaan-ffi and uniffi-bindgen"
    (cd "$root" && cargo build -q -p pramaan-ffi --features bindgen --lib --bin uniffi-bindgen)
    [[ -f "$host_lib" ]] || die "$host_lib was not built"

    local out
    out="$(mktemp -d)"
    # shellcheck disable=SC2064 # expand now: $out is local and gone when the trap runs
    trap "rm -rf '$out'" EXIT
    echo "==> Swift bindings"
    (cd "$root" && "$target_dir/debug/uniffi-bindgen" generate --library "$host_lib" \
        --language swift --no-format --out-dir "$out")
    for f in PramaanCore.swift PramaanCoreFFI.h PramaanCoreFFI.modulemap; do
        [[ -f "$out/$f" ]] || die "uniffi-bindgen did not write $f"
    done
    mkdir -p "$here/Sources/PramaanCore" "$headers/PramaanCoreFFI"
    cp "$out/PramaanCore.swift" "$here/Sources/PramaanCore/PramaanCore.swift"
    cp "$out/PramaanCoreFFI.h" "$headers/PramaanCoreFFI/PramaanCoreFFI.h"
    # Clang looks for `module.modulemap`; the module inside is `PramaanCoreFFI`, the name
    # PramaanCore.swift imports.
    cp "$out/PramaanCoreFFI.modulemap" "$headers/PramaanCoreFFI/module.modulemap"
    echo "    $here/Sources/PramaanCore/PramaanCore.swift"
    echo "    $headers/PramaanCoreFFI/{PramaanCoreFFI.h,module.modulemap}"
}

build="$here/build"
headers="$build/headers"
rm -rf "$headers"

if $bindings_only; then
    generate_bindings "$headers"
    exit 0
fi

[[ "$(uname -s)" == Darwin ]] ||
    die "the xcframework needs macOS with Xcode (xcodebuild, lipo); on this host run: $0 --bindings-only"
for tool in xcodebuild lipo rustup; do
    command -v "$tool" >/dev/null || die "$tool not found (install Xcode and its command line tools, and rustup)"
done
installed="$(rustup target list --installed)"
missing=()
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
done
((${#missing[@]} == 0)) || die "Rust targets missing: run: rustup target add ${missing[*]}"

for t in "${targets[@]}"; do
    echo "==> cargo build --release --target $t"
    (cd "$root" && cargo build -q -p pramaan-ffi --release --lib --target "$t")
    [[ -f "$target_dir/$t/release/libpramaan_ffi.a" ]] || die "no static library for $t"
done

generate_bindings "$headers"

echo "==> simulator slice (arm64 + x86_64)"
mkdir -p "$build/ios-simulator"
lipo -create \
    "$target_dir/aarch64-apple-ios-sim/release/libpramaan_ffi.a" \
    "$target_dir/x86_64-apple-ios/release/libpramaan_ffi.a" \
    -output "$build/ios-simulator/libpramaan_ffi.a"

echo "==> PramaanFFI.xcframework"
rm -rf "$here/PramaanFFI.xcframework"
xcodebuild -create-xcframework \
    -library "$target_dir/aarch64-apple-ios/release/libpramaan_ffi.a" -headers "$headers" \
    -library "$build/ios-simulator/libpramaan_ffi.a" -headers "$headers" \
    -output "$here/PramaanFFI.xcframework"
echo "done: $here/PramaanFFI.xcframework and $here/Sources/PramaanCore/PramaanCore.swift"
