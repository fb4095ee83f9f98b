import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Ctrl-C reaches a run through the process's SIGINT: tested on a child `optlang run`, so the
/// signal stops that run alone and no run of the test process hears it. The child inherits
/// SIGINT blocked from this process (as from any parent that blocks it); the run must take
/// it anyway.
@Suite struct CtrlCTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized
    static let binary = root.appendingPathComponent(".build/debug/optlang")

    /// Starts `optlang arguments…` as a child (interpreted passes), sends it SIGINT once
    /// `metrics` holds three lines, and waits for it: how it ended and what it printed.
    static func interrupt(_ arguments: [String], once metrics: String) throws -> (
        reason: Process.TerminationReason, status: Int32, output: String
    ) {
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path),
            "\(binary.path) is missing: swift test builds it (swift build --build-tests does too)")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OPTLANG_NATIVE"] = "0"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for a few logged steps (bounded by steps seen, with a generous wall limit).
        let deadline = Date().addingTimeInterval(120)
        func lines() -> Int {
            ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        while lines() < 3 && process.isRunning && Date() < deadline { usleep(10_000) }
        try #require(process.isRunning, "the child ended before it could be interrupted")
        kill(process.processIdentifier, SIGINT)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationReason, process.terminationStatus, output)
    }

    @Test func ctrlCStopsARunAfterItsStepWithACheckpoint() throws {
        let scratch = try Scratch([:])
        defer { scratch.remove() }
        let out = scratch.file("run")
        let metrics = out + "/metrics.jsonl"
        let child = try Self.interrupt(
            [
                "run", Self.root.appendingPathComponent("Recipes/sgd.opt").path, "--model",
                "tiny,d=16,layers=1,heads=2,context=16,batch=2", "--steps", "100000", "--log-every", "1", "--out", out,
            ], once: metrics)
        #expect(child.reason == .exit)
        #expect(child.status == 0)
        let logged = (try String(contentsOfFile: metrics, encoding: .utf8)).split(separator: "\n")
        let last = try #require(
            logged.last.flatMap { line -> Int? in
                guard let data = line.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else { return nil }
                return object["step"] as? Int
            })
        #expect(last >= 3 && last < 100_000, "stopped at step \(last)")
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.ckpt"))
    }
}
