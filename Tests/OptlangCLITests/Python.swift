import Foundation

/// The Python interpreter that tests run exported code and references with, and what it
/// can import.
///
/// `OPTLANG_PYTHON` names the interpreter (default `python3` on the path); `.ci/run` points
/// it at a virtual environment with torch and sets `OPTLANG_REQUIRE_TORCH=1`, so that in CI
/// a test that needs torch runs for real and fails if torch is missing, while on a machine
/// without torch it is reported as skipped, with the reason, by the test runner.
enum Python {
    static let executable = ProcessInfo.processInfo.environment["OPTLANG_PYTHON"] ?? "python3"

    /// Runs the interpreter with `arguments`; its status and its output and errors together.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Whether `import torch` succeeds (asked once).
    static let torchImports: Bool = (try? run(["-c", "import torch"]).status == 0) ?? false

    /// Whether tests that need torch must run (CI), rather than be skipped without it.
    static let torchRequired = ProcessInfo.processInfo.environment["OPTLANG_REQUIRE_TORCH"] == "1"

    /// Runs a test that needs torch where torch imports or is required; skips it otherwise.
    static var torchTests: Bool { torchImports || torchRequired }

    /// Whether `import jax, optax` succeeds (asked once).
    static let jaxImports: Bool = (try? run(["-c", "import jax, optax"]).status == 0) ?? false

    /// Whether tests that need JAX and Optax must run (CI: `OPTLANG_REQUIRE_JAX=1`).
    static let jaxRequired = ProcessInfo.processInfo.environment["OPTLANG_REQUIRE_JAX"] == "1"

    /// Runs a test that needs JAX and Optax where they import or are required; skips it otherwise.
    static var jaxTests: Bool { jaxImports || jaxRequired }

    /// Why a JAX test was skipped.
    static let jaxSkipReason: String =
        "jax or optax cannot be imported by \(executable) (set OPTLANG_PYTHON to an interpreter that has them; .ci/run does)"

    /// Why a torch test was skipped.
    static let torchSkipReason: String =
        "torch cannot be imported by \(executable) (set OPTLANG_PYTHON to an interpreter that has it; .ci/run does)"
}
