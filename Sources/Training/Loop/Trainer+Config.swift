/// The names of the files in a run folder.
public enum RunFiles {
    /// Everything needed to reproduce the run.
    public static let config = "config.json"
    /// One JSON object per logged step.
    public static let metrics = MetricsLog.fileName
    /// The last checkpoint.
    public static let checkpoint = Checkpoint.fileName
}

extension Trainer {
    /// `config.json`: the recipe (text and SHA-256), hyperparameters, model, data, seed,
    /// options and version; enough to run the same thing again.
    var configJSON: JSON {
        let hyper = runDescription.hyperparameters.sorted { $0.key < $1.key }.map { ($0.key, JSON.double($0.value)) }
        let c = modelConfig
        var pairs: [(String, JSON)] = [
            ("optlang_version", .string(runDescription.optlangVersion)),
            (
                "recipe",
                .object([
                    ("name", .string(runDescription.recipeName)),
                    ("sha256", .string(SHA256.hexDigest(runDescription.recipeText))),
                    ("text", .string(runDescription.recipeText)),
                ])
            ),
            ("hyperparameters", .object(hyper)),
            ("optimizer_state_bytes", .int(optimizer.stateTensors().values.reduce(0) { $0 + 4 * $1.count })),
            (
                "model",
                .object([
                    ("architecture", .string(c.architecture.rawValue)),
                    ("d", .int(c.d)),
                    ("layers", .int(c.layers)),
                    ("heads", .int(c.heads)),
                    ("context", .int(c.context)),
                    ("batch", .int(c.batch)),
                    ("vocab", .int(c.vocab == 0 ? dataset.vocabularySize : c.vocab)),
                    ("parameter_count", .int(model.parameterMetas.reduce(0) { $0 + $1.shape.reduce(1, *) })),
                ])
            ),
            (
                "data",
                .object([("summary", .string(dataset.summary)), ("vocabulary_size", .int(dataset.vocabularySize))])
            ),
            ("seed", .int(options.seed)),
            ("options", options.json),
        ]
        if let from = resumedStep { pairs.append(("resumed_from_step", .int(from))) }
        return .object(pairs)
    }
}
