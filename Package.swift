// swift-tools-version: 6.0
import PackageDescription

// Kernels need the CPU's vector units: without a target CPU, `SIMD8<Float>.addProduct`
// lowers to one scalar `fmaf` call per lane. The runtime is also optimised in debug
// builds so that the test suite (which runs in debug) does not crawl through kernels.
let kernelSettings: [SwiftSetting] = [
    .unsafeFlags(["-O", "-target-cpu", "native"])
]
let nativeCPU: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))
]

let package = Package(
    name: "optlang",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "optlang", targets: ["optlang"]),
        .library(name: "TensorRuntime", targets: ["TensorRuntime"]),
    ],
    targets: [
        .target(name: "TensorRuntime", swiftSettings: kernelSettings),
        .target(name: "RecipeLanguage"),
        .target(name: "Training", dependencies: ["TensorRuntime", "RecipeLanguage"], swiftSettings: kernelSettings),
        .target(
            name: "RecipeCompiler", dependencies: ["RecipeLanguage", "TensorRuntime", "Training"],
            swiftSettings: kernelSettings),
        .target(
            name: "OptlangCLI", dependencies: ["TensorRuntime", "RecipeLanguage", "Training", "RecipeCompiler"],
            swiftSettings: nativeCPU),
        .executableTarget(name: "optlang", dependencies: ["OptlangCLI"], swiftSettings: nativeCPU),
        .testTarget(name: "TensorRuntimeTests", dependencies: ["TensorRuntime"]),
        .testTarget(name: "RecipeLanguageTests", dependencies: ["RecipeLanguage"], exclude: ["Golden"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training"]),
        .testTarget(name: "RecipeCompilerTests", dependencies: ["RecipeCompiler"], exclude: ["Golden"]),
        .testTarget(
            name: "OptlangCLITests", dependencies: ["OptlangCLI"], exclude: ["Export", "References", "FuzzRegressions"]),
    ]
)
