import Foundation
import RecipeCompiler
import RecipeLanguage
import Training

/// What happened to one run of a sweep, as `sweep.json` records it.
struct SweepRunRecord {
    /// Where the run stands in this session.
    enum Status: String {
        case pending, running, finished, failed, stopped
    }

    var point: SweepPoint
    var state: RunState
    var status: Status = .pending
    var validationLoss: Float?
    var bestValidationLoss: Float?
    /// This session's wall time for the run.
    var seconds: Double?
    var error: String?

    /// The run's entry in `sweep.json`.
    var json: JSON {
        var fields: [(String, JSON)] = [
            ("folder", .string(point.folder)),
            ("hyperparameters", .object(point.assignments.map { ($0.name, .double($0.value.number)) })),
            ("seed", .int(point.seed)), ("status", .string(status.rawValue)),
        ]
        if let validationLoss { fields.append(("val_loss", .float(validationLoss))) }
        if let bestValidationLoss { fields.append(("best_val_loss", .float(bestValidationLoss))) }
        if let seconds { fields.append(("seconds", .double((seconds * 1000).rounded() / 1000))) }
        if let error { fields.append(("error", .string(error))) }
        return .object(fields)
    }
}

/// One invocation of a sweep: the runs' records, handed out one at a time to one or two
/// workers, with `sweep.json` rewritten after every change.
final class SweepSession: @unchecked Sendable {  // every mutable field is used under `lock`
    private let command: SweepCommand
    private let recipe: CheckedRecipe
    private let folder: String
    private let settings: JSON
    private let console: Console
    private let lock = NSLock()
    private var records: [SweepRunRecord]
    private var next = 0
    private var stopped = false
    private var trained = 0

    init(
        command: SweepCommand, recipe: CheckedRecipe, folder: String, settings: JSON, points: [SweepPoint],
        console: Console
    ) {
        self.command = command
        self.recipe = recipe
        self.folder = folder
        self.settings = settings
        self.console = console
        let steps = command.settings.steps
        records = points.map { point in
            let state = RunState.of(URL(fileURLWithPath: folder).appendingPathComponent(point.folder), steps: steps)
            var record = SweepRunRecord(point: point, state: state)
            if case .finished(let val, let best) = state {
                record.status = .finished
                (record.validationLoss, record.bestValidationLoss) = (val, best)
            }
            return record
        }
    }

    /// Writes `sweep.json` atomically. Call under `lock` once workers run.
    func save() throws {
        let json = JSON.object([
            ("recipe", .string(command.recipe)), ("settings", settings),
            ("runs", .array(records.map(\.json))),
        ])
        let url = URL(fileURLWithPath: folder).appendingPathComponent("sweep.json")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data((json.pretty + "\n").utf8).write(to: url, options: .atomic)
    }

    /// Runs every unfinished run, `parallel` at a time, until all are done or one is stopped.
    func runAll(parallel: Int) {
        let done = DispatchGroup()
        for _ in 1..<parallel {
            done.enter()
            Thread { [self] in
                work(live: false)
                done.leave()
            }.start()
        }
        work(live: parallel == 1 && console.outputIsTerminal)
        done.wait()
    }

    /// Takes runs until none is left.
    private func work(live: Bool) {
        while let index = take() {
            let record = lock.withLock { records[index] }
            let runFolder = folder + "/" + record.point.folder
            var settings = command.settings
            settings.sets.merge(record.point.overrides) { a, _ in a }
            if case .incomplete = record.state {
                try? FileManager.default.removeItem(atPath: runFolder + "/" + RunFiles.checkpoint)
            }
            var resume: String?
            if case .partial = record.state { resume = runFolder }
            let run = TrainingRun(
                recipePath: command.recipe, recipe: recipe, settings: settings, seed: record.point.seed,
                folder: runFolder, resumeFrom: resume, quiet: !live)
            let progress = ProgressReporter(style: live ? .live : .silent, write: { [console] in console.printRaw($0) })
            let clock = ContinuousClock()
            let start = clock.now
            var result: Result<TrainingSummary, any Error>
            do {
                result = .success(try run.train(progress: progress))
            } catch {
                result = .failure(error)
            }
            let seconds =
                Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds)
                * 1e-18
            finish(index, result, seconds: seconds)
        }
    }

    /// The next run to train, announced; nil when none is left or the sweep was stopped.
    private func take() -> Int? {
        lock.withLock {
            while next < records.count, records[next].status == .finished {
                report(next, "done already: " + losses(records[next]))
                next += 1
            }
            guard !stopped, next < records.count else { return nil }
            defer { next += 1 }
            records[next].status = .running
            switch records[next].state {
            case .fresh, .finished: report(next, "training")
            case .partial(let step): report(next, "resuming at step \(step)")
            case .incomplete(let reason): report(next, "training again: \(reason)")
            }
            try? save()
            return next
        }
    }

    private func finish(_ index: Int, _ result: Result<TrainingSummary, any Error>, seconds: Double) {
        lock.withLock {
            records[index].seconds = seconds
            switch result {
            case .success(let summary):
                records[index].status = summary.stopped ? .stopped : .finished
                records[index].validationLoss = summary.finalValidationLoss
                records[index].bestValidationLoss = summary.bestValidationLoss
                if summary.stopped {
                    stopped = true
                    report(index, "stopped at step \(summary.step) of \(summary.totalSteps)")
                } else {
                    trained += 1
                    report(index, losses(records[index]) + " in " + Self.duration(seconds))
                }
            case .failure(let error):
                let message = (error as? CompileError)?.message ?? "\(error)"
                records[index].status = .failed
                records[index].error = message
                report(index, "failed: \(message)")
            }
            do {
                try save()
            } catch {
                console.error("optlang sweep: cannot write \(folder)/sweep.json: \(error)")
            }
        }
    }

    /// Prints the summary line and returns the exit status: 0 when every run finished,
    /// 1 when one failed, 130 when the sweep was stopped.
    func finish() -> Int32 {
        let failed = records.filter { $0.status == .failed }.count
        let skipped = records.filter { $0.status == .finished }.count - trained
        var line = "sweep: \(records.count) runs, \(trained) trained, \(skipped) done already, \(failed) failed"
        let best = records.filter { $0.status == .finished && $0.bestValidationLoss != nil }
            .min { $0.bestValidationLoss! < $1.bestValidationLoss! }
        if let best { line += "; best \(best.point.label) (val \(String(format: "%.4f", best.bestValidationLoss!)))" }
        console.print(line + " → \(folder)/sweep.json")
        if stopped {
            console.print("stopped; run the same command again to continue")
            return 130
        }
        return failed > 0 ? 1 : 0
    }

    /// Prints `[3/12] lr=0.003 seed=2: text`. Call under `lock`.
    private func report(_ index: Int, _ text: String) {
        console.print("[\(index + 1)/\(records.count)] \(records[index].point.label): \(text)")
    }

    private func losses(_ record: SweepRunRecord) -> String {
        let val = record.validationLoss.map { String(format: "%.4f", $0) } ?? "–"
        let best = record.bestValidationLoss.map { String(format: "%.4f", $0) } ?? "–"
        return "val \(val) (best \(best))"
    }

    /// `0.4 s` under ten seconds, `27 s` above.
    static func duration(_ seconds: Double) -> String {
        seconds < 10 ? String(format: "%.1f s", seconds) : String(format: "%.0f s", seconds)
    }
}
