// swift-tools-version: 5.9
// Pramaan's iOS layer as a Swift package. Build the binary target and the generated
// bindings first: `ios/build-xcframework.sh` (README.md).
//
// - PramaanFFI: the Rust core (pramaan-ffi) as a static library per platform, with the
//   C header and module map of module `PramaanCoreFFI` in its Headers.
// - PramaanCore: uniffi's generated Swift bindings (Sources/PramaanCore/PramaanCore.swift,
//   build output), which `import PramaanCoreFFI`.
// - PramaanLogic: plain Swift (Foundation and PramaanCore only): facts mapping,
//   enrollment flow, scheduling, confirm screen. Testable without a phone.
// - Pramaan: the iOS API calls (Secure Enclave, App Attest, URL-scheme probes,
//   BGTaskScheduler, the camera).
// The app target (App/) depends on Pramaan and PramaanLogic.
import PackageDescription

let package = Package(
    name: "Pramaan",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "Pramaan", targets: ["Pramaan", "PramaanLogic", "PramaanCore"])
    ],
    targets: [
        .binaryTarget(name: "PramaanFFI", path: "PramaanFFI.xcframework"),
        .target(
            name: "PramaanCore",
            dependencies: ["PramaanFFI"],
            path: "Sources/PramaanCore"
        ),
        .target(
            name: "PramaanLogic",
            dependencies: ["PramaanCore"],
            path: "Sources/PramaanLogic"
        ),
        .target(
            name: "Pramaan",
            dependencies: ["PramaanCore", "PramaanLogic"],
            path: "Sources/Pramaan",
            linkerSettings: [
                .linkedFramework("DeviceCheck"),
                .linkedFramework("BackgroundTasks"),
                .linkedFramework("LocalAuthentication"),
                .linkedFramework("AVFoundation"),
            ]
        ),
        .testTarget(
            name: "PramaanLogicTests",
            dependencies: ["PramaanLogic", "PramaanCore"],
            path: "Tests/PramaanLogicTests"
        ),
    ]
)
