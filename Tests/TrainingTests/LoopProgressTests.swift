import Testing

@testable import Training

@Suite struct LoopProgressTests {
    private func snapshot(_ step: Int, loss: Float = 2.5) -> ProgressReporter.Snapshot {
        .init(
            step: step, totalSteps: 100, trainLoss: loss, tokensPerSecond: 12_345, secondsLeft: 75,
            elapsedSeconds: 3.2)
    }

    private let summary = TrainingSummary(
        step: 100, totalSteps: 100, stopped: false, finalValidationLoss: 2.25, bestValidationLoss: 2.2,
        bestValidationStep: 80, bayesLoss: 2.0, elapsedSeconds: 83, tokens: 1_000_000)

    @Test func plainLinesOnlyOnLoggedSteps() {
        var text = ""
        var reporter = ProgressReporter(style: .lines) { text += $0 }
        reporter.step(snapshot(9), logged: false)
        reporter.step(snapshot(10), logged: true)
        reporter.evaluation(step: 10, loss: 2.4, bayesLoss: 2.0)
        reporter.finish(summary)
        #expect(
            text == """
                step  10/100  loss 2.5000  12.3k tok/s  elapsed 3s  eta 1m15s
                step 10: val_loss 2.4000 (bayes 2.0000, gap 0.4000)
                finished 100 steps in 1m23s (12.0k tok/s overall)
                val_loss: final 2.2500, best 2.2000 at step 80
                bayes_loss 2.0000: final is 0.2500 above

                """)
    }

    @Test func liveBarRedrawsInPlaceAndClearsBeforeOtherLines() {
        var writes: [String] = []
        var reporter = ProgressReporter(style: .live) { writes.append($0) }
        reporter.step(snapshot(98, loss: 12.5), logged: false)
        reporter.step(snapshot(99), logged: false)  // too soon after the last drawing
        reporter.step(snapshot(100), logged: false)
        reporter.note("done")
        let first = "step  98/100  loss 12.5000  12.3k tok/s  elapsed 3s  eta 1m15s"
        let second = "step 100/100  loss 2.5000  12.3k tok/s  elapsed 3s  eta 1m15s"
        #expect(
            writes == [
                "\r" + first,
                "\r" + second + " ",
                "\r" + String(repeating: " ", count: second.count) + "\r",
                "done\n",
            ])
    }

    @Test func silentWritesNothing() {
        var text = ""
        var reporter = ProgressReporter(style: .silent) { text += $0 }
        reporter.step(snapshot(10), logged: true)
        reporter.evaluation(step: 10, loss: 2, bayesLoss: nil)
        reporter.finish(summary)
        #expect(text.isEmpty)
        #expect(ProgressReporter.Style.automatic(isTerminal: true, quiet: true) == .silent)
        #expect(ProgressReporter.Style.automatic(isTerminal: true, quiet: false) == .live)
        #expect(ProgressReporter.Style.automatic(isTerminal: false, quiet: false) == .lines)
    }

    @Test func stoppedRunSummary() {
        var stopped = summary
        stopped.stopped = true
        stopped.step = 40
        stopped.finalValidationLoss = nil
        #expect(stopped.lines == ["stopped at step 40 of 100 in 1m23s; checkpoint written"])
    }

    @Test func numbersAreFormattedCompactly() {
        #expect(ProgressReporter.rate(950) == "950")
        #expect(ProgressReporter.rate(1_049_999) == "1.0M")
        #expect(ProgressReporter.duration(42.4) == "42s")
        #expect(ProgressReporter.duration(7_500) == "2h05m")
        #expect(ProgressReporter.loss(-0.00004) == "0.0000")
        #expect(ProgressReporter.loss(-1.23456) == "-1.2346")
    }
}
