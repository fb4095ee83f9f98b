import Foundation
import TensorRuntime

/// Drives a model and an optimizer over a dataset: seeded batches, forward and backward,
/// a finiteness check, optional clipping, the update, evaluation, metrics and checkpoints.
///
/// ```swift
/// let trainer = try Trainer(model: model, optimizer: optimizer, dataset: data, modelConfig: config,
///                           options: options, run: description, progress: reporter)
/// try trainer.resume(from: options.outDirectory)   // only to continue a run
/// let summary = try trainer.run()
/// ```
///
/// A class because a stop can be requested from another thread while ``run()`` is running.
public final class Trainer {
    public let model: any TrainableModel
    /// The optimizer; its state advances as the run does.
    public private(set) var optimizer: any Optimizer
    public let dataset: any Dataset
    public let modelConfig: ModelConfig
    public let options: TrainingOptions
    public let runDescription: RunDescription
    /// The last completed step (0 before the first).
    public private(set) var step = 0
    /// Called after every step with its metrics (whether or not the step is logged).
    public var onStep: ((MetricsRecord) -> Void)?
    /// Whether Ctrl-C (SIGINT) stops the run like ``requestStop()`` while ``run()`` runs.
    /// Turn it off where several runs share a process and one should not stop the others.
    public var stopsOnInterrupt = true
    /// Where Ctrl-C comes from: the process's SIGINT unless a test gives the run its own.
    public var interrupts = InterruptSource.process

    /// Draws the training windows; saved in checkpoints.
    private var random: SeededRandom
    private var tokens = 0
    /// Wall time of earlier sessions of a resumed run.
    private var elapsedBefore = 0.0
    private var best: (loss: Float, step: Int)?
    private var lastValidation: Float?
    /// The run folder a checkpoint was resumed from.
    private var resumedFrom: URL?
    /// The step of the checkpoint this session resumed from, for `config.json`.
    private(set) var resumedStep: Int?
    private let stop = StopFlag()
    /// ``interrupts``'s count when this run registered, while it runs.
    private var interruptMark: Int?
    private var progress: ProgressReporter
    private lazy var validation = dataset.validationWindows(count: options.evalWindows, context: modelConfig.context)
    private lazy var bayesLoss: Double? =
        options.evalWindows > 0 ? dataset.bayesLoss(count: options.evalWindows, context: modelConfig.context) : nil

    /// Prepares a fresh run: checks the options and prepares the optimizer for the model's
    /// parameters.
    /// - Parameters:
    ///   - modelConfig: the model's sizes; `batch` and `context` shape every training batch.
    ///   - run: the recipe and settings, recorded in `config.json`.
    ///   - progress: where progress goes; `options.quiet` silences it.
    public init(
        model: any TrainableModel, optimizer: any Optimizer, dataset: any Dataset, modelConfig: ModelConfig,
        options: TrainingOptions, run: RunDescription, progress: ProgressReporter = .silent
    ) throws {
        try options.validate()
        guard modelConfig.batch > 0, modelConfig.context > 0 else {
            throw TrainingError.invalidOptions("batch and context must be positive")
        }
        guard modelConfig.vocab == 0 || modelConfig.vocab == dataset.vocabularySize else {
            throw TrainingError.invalidOptions(
                "the model's vocabulary (\(modelConfig.vocab)) differs from the data's (\(dataset.vocabularySize))")
        }
        guard model.parameters.count == model.parameterMetas.count else {
            throw TrainingError.invalidOptions(
                "the model has \(model.parameters.count) parameters but \(model.parameterMetas.count) metadata entries")
        }
        self.model = model
        self.optimizer = optimizer
        self.dataset = dataset
        self.modelConfig = modelConfig
        self.options = options
        self.runDescription = run
        self.progress = options.quiet ? .silent : progress
        self.random = SeededRandom(seed: options.seed)
        try self.optimizer.prepare(model.parameterMetas, totalSteps: options.steps)
    }

    /// Asks the run to stop after the current step and write a checkpoint. Safe from any
    /// thread; Ctrl-C does the same while ``run()`` is running.
    public func requestStop() { stop.raise() }

    /// True once a stop has been requested (or Ctrl-C pressed) and not yet honoured.
    public var isStopRequested: Bool {
        stop.isRaised || (interruptMark.map(interrupts.interrupted(since:)) ?? false)
    }

    /// Loads the checkpoint in the run folder `directory` (model parameters, optimizer state,
    /// step, data generator), so that ``run()`` continues exactly where that run stopped.
    /// Nothing changes when the checkpoint does not fit.
    /// - Throws: ``TrainingError/checkpoint(_:)`` naming the first mismatch.
    public func resume(from directory: URL) throws {
        let url = directory.appendingPathComponent(Checkpoint.fileName)
        let checkpoint = try Checkpoint.read(from: url)
        func fail(_ error: TrainingError) -> TrainingError {
            if case .checkpoint(let message) = error { return .checkpoint("\(url.path): \(message)") }
            return error
        }
        do {
            try checkpoint.validate(against: model.parameterMetas)
            try checkpoint.validate(againstOptimizerState: optimizer.stateTensors())
        } catch {
            throw fail(error)
        }
        guard checkpoint.step < options.steps else {
            throw TrainingError.checkpoint(
                "\(url.path): already at step \(checkpoint.step) of \(options.steps); raise the step count to continue")
        }
        let saved = Dictionary(checkpoint.parameters.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        do {
            try optimizer.loadState(
                Dictionary(checkpoint.optimizerState.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }))
        } catch {
            throw TrainingError.checkpoint("\(url.path): the optimizer rejected its state: \(error)")
        }
        model.parameters = model.parameterMetas.map { saved[$0.name]! }
        step = checkpoint.step
        tokens = checkpoint.tokens
        elapsedBefore = checkpoint.elapsedSeconds
        random = checkpoint.dataRandom
        best = checkpoint.bestValidation
        resumedFrom = directory
        resumedStep = checkpoint.step
    }

    /// Trains up to `options.steps`, or until a stop is requested.
    /// - Returns: how the run ended.
    /// - Throws: ``TrainingError`` for a non-finite loss or gradient (the last checkpoint is
    ///   left as it was) or an unwritable run folder; errors from the optimizer as they are.
    public func run() throws -> TrainingSummary {
        Subnormals.flushOnThisThread()
        guard step < options.steps else {
            throw TrainingError.invalidOptions("nothing to do: already at step \(step) of \(options.steps)")
        }
        let folder = options.outDirectory
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io("cannot create \(folder.path)")
        }
        try AtomicFile.replace(folder.appendingPathComponent(RunFiles.config), text: configJSON.pretty + "\n")
        let metricsURL = folder.appendingPathComponent(MetricsLog.fileName)
        let source = resumedFrom.map { $0.appendingPathComponent(MetricsLog.fileName) }
        let metrics = try MetricsLog(url: metricsURL, keepingThrough: step, copyingFrom: source)
        defer { metrics.close() }
        if stopsOnInterrupt { interruptMark = interrupts.register() }
        defer {
            if interruptMark != nil { interrupts.unregister() }
            interruptMark = nil
            stop.lower()
        }
        if step > 0 { progress.note("resuming at step \(step) of \(options.steps)") }

        let metas = model.parameterMetas
        let (batch, context) = (modelConfig.batch, modelConfig.context)
        var inputs = [Int32](repeating: 0, count: batch * context)
        var targets = inputs
        let clock = ContinuousClock()
        let sessionStart = clock.now
        let startStep = step
        var sessionTrainSeconds = 0.0
        var window = (tokens: 0, seconds: 0.0)
        var stopped = false
        func seconds(since t: ContinuousClock.Instant) -> Double {
            let d = t.duration(to: clock.now).components
            return Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }

        while step < options.steps {
            let s = step + 1
            let t0 = clock.now

            // The step, as the algorithm reads: batch, forward + backward, check, clip, update.
            dataset.trainBatch(batch: batch, context: context, inputs: &inputs, targets: &targets) { n in
                self.random.nextInt(below: n)
            }
            let loss = model.trainStep(inputs: inputs, targets: targets)
            guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: s) }
            var gradients = model.gradients
            let norm: Double
            switch GradientNorm.globalNorm(gradients) {
            case .success(let n): norm = n
            case .failure(let bad): throw TrainingError.nonFiniteGradient(step: s, parameter: metas[bad.index].name)
            }
            if let maxNorm = options.clipNorm { GradientNorm.clip(&gradients, norm: norm, maxNorm: maxNorm) }
            try optimizer.step(parameters: &model.parameters, gradients: gradients, step: s)

            step = s
            tokens += batch * context
            let stepSeconds = seconds(since: t0)
            sessionTrainSeconds += stepSeconds
            window.tokens += batch * context
            window.seconds += stepSeconds

            let isLast = s == options.steps
            var validationLoss: Float?
            if options.evalWindows > 0, TrainingOptions.isMultiple(s, of: options.evalEvery) || isLast {
                let v = evaluate()
                validationLoss = v
                lastValidation = v
                if v.isFinite, best.map({ v < $0.loss }) ?? true { best = (v, s) }
                progress.evaluation(step: s, loss: v, bayesLoss: bayesLoss)
            }
            let record = MetricsRecord(
                step: s, trainLoss: loss, validationLoss: validationLoss, bayesLoss: bayesLoss,
                learningRate: optimizer.reportedLearningRate(step: s), gradientNorm: norm, tokens: tokens,
                tokensPerSecond: window.seconds > 0 ? Double(window.tokens) / window.seconds : 0,
                elapsedSeconds: elapsedBefore + seconds(since: sessionStart), logs: optimizer.loggedValues())
            onStep?(record)
            let stopping = isStopRequested && !isLast
            let logged =
                TrainingOptions.isMultiple(s, of: options.logEvery) || validationLoss != nil || isLast || stopping
            if logged {
                try metrics.append(record)
                window = (0, 0)
            }
            let perStep = sessionTrainSeconds / Double(s - startStep)
            progress.step(
                .init(
                    step: s, totalSteps: options.steps, trainLoss: loss, tokensPerSecond: record.tokensPerSecond,
                    secondsLeft: perStep * Double(options.steps - s), elapsedSeconds: record.elapsedSeconds),
                logged: logged)
            if TrainingOptions.isMultiple(s, of: options.checkpointEvery) || isLast || stopping {
                try writeCheckpoint(elapsed: record.elapsedSeconds)
            }
            if stopping {
                stopped = true
                break
            }
        }
        let summary = TrainingSummary(
            step: step, totalSteps: options.steps, stopped: stopped, finalValidationLoss: lastValidation,
            bestValidationLoss: best?.loss, bestValidationStep: best?.step, bayesLoss: bayesLoss,
            elapsedSeconds: elapsedBefore + seconds(since: sessionStart), tokens: tokens)
        progress.finish(summary)
        return summary
    }

    /// The mean loss over the validation windows, evaluated a batch of windows at a time.
    private func evaluate() -> Float {
        let (count, context, batch) = (options.evalWindows, modelConfig.context, modelConfig.batch)
        var total = 0.0
        for start in stride(from: 0, to: count, by: batch) {
            let n = min(batch, count - start)
            let range = (start * context)..<((start + n) * context)
            let loss = model.evaluate(
                inputs: Array(validation.inputs[range]), targets: Array(validation.targets[range]))
            total += Double(loss) * Double(n)
        }
        return Float(total / Double(count))
    }

    private func writeCheckpoint(elapsed: Double) throws {
        let checkpoint = Checkpoint(
            step: step, tokens: tokens, elapsedSeconds: elapsed, dataRandom: random, bestValidation: best,
            parameters: zip(model.parameterMetas, model.parameters).map { ($0.name, $1) },
            optimizerState: optimizer.stateTensors().sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        try checkpoint.write(to: options.outDirectory.appendingPathComponent(Checkpoint.fileName))
    }
}
