import Foundation
import Testing

@testable import OptlangCLI

@Suite struct SweepGridTests {
    @Test func gridsExpandFirstAxisSlowestSeedFastest() throws {
        let axes = [try GridAxis(parsing: "lr=0.003,1e-2"), try GridAxis(parsing: "beta=0.9")]
        let points = SweepPoint.expand(axes, seeds: [1, 2])
        #expect(
            points.map(\.folder) == [
                "lr=0.003,beta=0.9/seed=1", "lr=0.003,beta=0.9/seed=2", "lr=1e-2,beta=0.9/seed=1",
                "lr=1e-2,beta=0.9/seed=2",
            ])
        #expect(points[2].label == "lr=1e-2 beta=0.9 seed=1")
        #expect(points[2].overrides == ["lr": 0.01, "beta": 0.9])
    }

    @Test func seedsAloneNameTheFolders() {
        #expect(SweepPoint.expand([], seeds: [3, 4]).map(\.folder) == ["seed=3", "seed=4"])
    }

    @Test(arguments: [
        ("lr", "option '--grid' expects NAME=V1,V2,..., got 'lr'"),
        ("=1,2", "option '--grid' expects NAME=V1,V2,..., got '=1,2'"),
        ("lr=", "option '--grid' expects NAME=V1,V2,..., got 'lr='"),
        ("lr=0.1,,0.2", "option '--grid lr' needs numbers, got ''"),
        ("lr=fast", "option '--grid lr' needs numbers, got 'fast'"),
        ("lr=0.1,1e-1", "option '--grid lr' repeats the value '1e-1'"),
    ])
    func badGridsAreOneLine(text: String, message: String) {
        #expect(throws: UsageError(message)) { try GridAxis(parsing: text) }
    }
}

@Suite(.serialized) struct SweepCommandTests {
    static let recipe = RunCommandTests.recipesFolder + "/sgd.opt"
    static let flags = [
        "--model", "tiny,d=32,layers=2,heads=2,context=16,batch=4", "--steps", "4", "--eval-every", "3",
        "--log-every", "1",
    ]

    static func sweep(_ out: String, _ extra: [String] = []) -> (Int32, String) {
        let console = Console.capture()
        let status = CLI.main(
            ["sweep", recipe, "--grid", "lr=0.01,0.1", "--out", out] + flags + extra, console: console)
        return (status, console.capturedOutput + console.capturedError)
    }

    static func bytes(_ path: String) -> Data { (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data() }

    @Test func finishedRunsAreSkippedAndUnfinishedOnesCompleted() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let out = s.file("sweep")
        let runs = ["lr=0.01/seed=1", "lr=0.1/seed=1"].map { out + "/" + $0 }
        let (first, log) = Self.sweep(out)
        #expect(first == 0, "\(log)")
        #expect(log.contains("[2/2] lr=0.1 seed=1: training\n"))
        let losses = try runs.map(RunCommandTests.losses)
        let checkpoints = runs.map { Self.bytes($0 + "/checkpoint.ckpt") }
        #expect(losses.allSatisfy { $0.count == 4 })

        // Again: nothing is trained, nothing is written.
        let (again, log2) = Self.sweep(out)
        #expect(again == 0)
        #expect(log2.contains("[1/2] lr=0.01 seed=1: done already: val "))
        #expect(log2.contains("sweep: 2 runs, 0 trained, 2 done already, 0 failed"))
        #expect(runs.map { Self.bytes($0 + "/checkpoint.ckpt") } == checkpoints)

        // Lost metrics: trained again. Interrupted at step 2: resumed. Same losses either way.
        try FileManager.default.removeItem(atPath: runs[0] + "/metrics.jsonl")
        try FileManager.default.removeItem(atPath: runs[1])
        let partial = ["run", Self.recipe, "--set", "lr=0.1", "--out", runs[1], "--quiet"] + Self.flags
        #expect(CLI.main(partial.map { $0 == "4" ? "2" : $0 }, console: .capture()) == 0)
        let (third, log3) = Self.sweep(out, ["--parallel", "2"])
        #expect(third == 0, "\(log3)")
        #expect(log3.contains("[1/2] lr=0.01 seed=1: training again: its metrics stop before step 4\n"))
        #expect(log3.contains("[2/2] lr=0.1 seed=1: resuming at step 2\n"))
        #expect(try runs.map(RunCommandTests.losses) == losses)

        let record = try String(contentsOfFile: out + "/sweep.json", encoding: .utf8)
        #expect(record.contains("\"folder\": \"lr=0.1/seed=1\""))
        #expect(!record.contains("\"status\": \"pending\"") && !record.contains("\"status\": \"running\""))
    }

    @Test func theLossHelperFailsOnALineWithoutALoss() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try FileManager.default.createDirectory(atPath: s.file("run"), withIntermediateDirectories: true)
        try "{\"step\":1,\"train_loss\":4.1}\n{\"step\":2,\"val_loss\":4.0}\n".write(
            toFile: s.file("run") + "/metrics.jsonl", atomically: true, encoding: .utf8)
        #expect(throws: RunCommandTests.MissingLoss.self) { try RunCommandTests.losses(s.file("run")) }
    }

    @Test func aRunKilledWithATruncatedCheckpointIsTrainedAgainToTheSameLosses() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let out = s.file("sweep")
        let run = out + "/lr=0.1/seed=1"
        #expect(Self.sweep(out).0 == 0)
        let losses = try RunCommandTests.losses(run)
        // As if the machine died while the checkpoint was written (and the metrics with it).
        let checkpoint = Self.bytes(run + "/checkpoint.ckpt")
        try checkpoint.prefix(checkpoint.count / 2).write(to: URL(fileURLWithPath: run + "/checkpoint.ckpt"))
        let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        try String(metrics.prefix(metrics.count - 20)).write(
            toFile: run + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let (status, log) = Self.sweep(out)
        #expect(status == 0, "\(log)")
        #expect(log.contains("[1/2] lr=0.01 seed=1: done already"))
        #expect(log.contains("[2/2] lr=0.1 seed=1: training again: "), "\(log)")
        #expect(try RunCommandTests.losses(run) == losses)
    }

    @Test func aFailedRunExitsOneIsRecordedAndIsTriedAgain() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let out = s.file("sweep")
        func diverging() -> (Int32, String) {
            let console = Console.capture()
            let status = CLI.main(
                ["sweep", Self.recipe, "--grid", "lr=0.01,1e30", "--out", out] + Self.flags, console: console)
            return (status, console.capturedOutput + console.capturedError)
        }
        let (status, log) = diverging()
        #expect(status == 1, "\(log)")
        #expect(log.contains("[2/2] lr=1e30 seed=1: failed: step 2: non-finite gradient in 'embed.tokens'"), "\(log)")
        #expect(log.contains("sweep: 2 runs, 1 trained, 0 done already, 1 failed"))
        let record = try String(contentsOfFile: out + "/sweep.json", encoding: .utf8)
        #expect(record.contains("\"status\": \"failed\""))
        #expect(record.contains("non-finite gradient in 'embed.tokens'"))
        let (again, log2) = diverging()
        #expect(again == 1)
        #expect(log2.contains("[1/2] lr=0.01 seed=1: done already"))
        #expect(log2.contains("[2/2] lr=1e30 seed=1: training\n"), "a failed run is tried again: \(log2)")
    }

    /// Ctrl-C reaches a sweep through its process's SIGINT, so it is sent to a child
    /// `optlang sweep` alone: exit 130, and the same command continues where it stopped.
    @Test func aStoppedSweepExits130AndTheSameCommandFinishesItToTheSameLosses() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let arguments = [
            "sweep", Self.recipe, "--grid", "lr=0.01,0.1", "--model", "tiny,d=16,layers=1,heads=2,context=16,batch=2",
            "--steps", "3000", "--log-every", "1", "--eval-every", "1000",
        ]
        let child = try CtrlCTests.interrupt(
            arguments + ["--out", s.file("stopped")], once: s.file("stopped") + "/lr=0.01/seed=1/metrics.jsonl")
        #expect(child.reason == .exit)
        #expect(child.status == 130, "\(child.output)")
        #expect(child.output.contains("stopped; run the same command again to continue"), "\(child.output)")
        let record = try String(contentsOfFile: s.file("stopped") + "/sweep.json", encoding: .utf8)
        #expect(record.contains("\"status\": \"stopped\""))

        let console = Console.capture()
        #expect(CLI.main(arguments + ["--out", s.file("stopped")], console: console) == 0, "\(console.capturedError)")
        #expect(console.capturedOutput.contains("[1/2] lr=0.01 seed=1: resuming at step "), "\(console.capturedOutput)")
        #expect(CLI.main(arguments + ["--out", s.file("straight")], console: .capture()) == 0)
        for point in ["lr=0.01/seed=1", "lr=0.1/seed=1"] {
            let resumed = try RunCommandTests.losses(s.file("stopped") + "/" + point)
            #expect(resumed.count == 3000)
            #expect(resumed == (try RunCommandTests.losses(s.file("straight") + "/" + point)), "\(point)")
        }
    }

    @Test func otherSettingsInTheSameFolderAreRefused() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        #expect(Self.sweep(s.file("sweep"), ["--seeds", "1"]).0 == 0)
        let (status, log) = Self.sweep(s.file("sweep"), ["--seeds", "1,2"])
        #expect(status == 2)
        #expect(
            log
                == "optlang sweep: '\(s.file("sweep"))' holds a sweep with other settings (recipe, grid, seeds or options); choose another --out\n"
        )
    }

    @Test(arguments: [
        (
            ["--grid", "rate=1"],
            "optlang sweep: recipe 'sgd' has no hyperparameter 'rate' (it has: lr, mu, nesterov, wd)\n"
        ),
        (["--grid", "lr"], "optlang sweep: option '--grid' expects NAME=V1,V2,..., got 'lr'\n"),
        (["--grid", "lr=1", "--grid", "lr=2"], "optlang sweep: option '--grid' names 'lr' twice\n"),
        (
            ["--grid", "lr=1", "--set", "lr=2"],
            "optlang sweep: hyperparameter 'lr' is both swept (--grid) and fixed (--set)\n"
        ),
        (["--seeds", "1,x"], "optlang sweep: option '--seeds' expects distinct integers like 1,2,3, got '1,x'\n"),
        (["--parallel", "3"], "optlang sweep: option '--parallel' expects an integer in 1...2, got '3'\n"),
    ])
    func usageErrorsAreOneLineAndExitTwo(arguments: [String], message: String) {
        let console = Console.capture()
        #expect(CLI.main(["sweep", Self.recipe] + arguments, console: console) == 2)
        #expect(console.capturedError == message)
        #expect(console.capturedOutput == "")
    }
}
