import Foundation
import Training

/// One logged line of `metrics.jsonl`, with the keys `compare` reads (docs/runs.md).
struct MetricPoint: Equatable {
    var step: Int
    var trainLoss: Double?
    /// Present on evaluation steps only.
    var valLoss: Double?
    var bayesLoss: Double?
    var tokensPerSecond: Double?
    var elapsed: Double?
    /// A recipe's `log` values: name → parameter → value.
    var log: [String: [String: Double]] = [:]
}

/// A finished or running training run, read from its folder (`config.json` + `metrics.jsonl`).
struct RunData {
    /// The folder, as found.
    var path: String
    var recipeName: String
    var recipeSHA: String
    /// Hyperparameters after overrides, keys sorted (as `config.json` writes them).
    var hyperparameters: [(name: String, value: Double)]
    /// What else shapes the training: the model's settings (the derived `parameter_count`
    /// aside) and the options that change the updates (`steps`, which schedules see, and
    /// `clip_norm`), in file order.
    var settings: [(name: String, value: String)]
    var dataSummary: String
    var seed: String
    var optimizerStateBytes: Int?
    var points: [MetricPoint]

    /// Everything that makes runs the same experiment apart from the seed.
    var variantKey: String {
        let hyper = hyperparameters.map { "\($0.name)=\($0.value)" }
        let other = settings.map { "\($0.name)=\($0.value)" }
        return ([recipeName, recipeSHA] + hyper + other + [dataSummary]).joined(separator: "\u{1}")
    }
}

/// Why `compare` cannot read its inputs; reported as one line, exit status 2.
struct RunLoadError: Error, CustomStringConvertible {
    var description: String
}

extension RunData {
    static let configFile = "config.json"
    static let metricsFile = "metrics.jsonl"

    /// Loads every run under `paths`: each path is a run folder, or a folder searched
    /// recursively for run folders (sweeps). Runs come back in the order of `paths`, each
    /// path's runs sorted; a folder named twice (`runs runs/a`) is read once.
    /// - Throws: `RunLoadError` for a missing path, a path holding no run, or a malformed file.
    static func loadAll(_ paths: [String]) throws(RunLoadError) -> [RunData] {
        var runs: [RunData] = []
        var seen: Set<String> = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw RunLoadError(description: "'\(path)' is not a folder")
            }
            let folders = runFolders(under: path)
            guard !folders.isEmpty else {
                throw RunLoadError(description: "'\(path)' holds no run (no folder with config.json and metrics.jsonl)")
            }
            for folder in folders where seen.insert(URL(fileURLWithPath: folder).standardizedFileURL.path).inserted {
                runs.append(try load(folder))
            }
        }
        return runs
    }

    /// The run folders at or below `path`, sorted; a run folder's own subfolders are not searched.
    static func runFolders(under path: String) -> [String] {
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/" + configFile) && fm.fileExists(atPath: path + "/" + metricsFile) {
            return [path]
        }
        let children = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        var found: [String] = []
        for child in children.sorted() where !child.hasPrefix(".") {
            let full = path.hasSuffix("/") ? path + child : path + "/" + child
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue {
                found += runFolders(under: full)
            }
        }
        return found
    }

    /// Reads one run folder.
    static func load(_ folder: String) throws(RunLoadError) -> RunData {
        let config = try readJSON(folder + "/" + configFile)
        let recipe = config.member("recipe")
        let hyper = (config.member("hyperparameters")?.objectValue ?? []).compactMap { name, value in
            value.doubleValue.map { (name: name, value: $0) }
        }
        let model = (config.member("model")?.objectValue ?? []).filter { $0.0 != "parameter_count" }
        let options = (config.member("options")?.objectValue ?? []).filter { ["steps", "clip_norm"].contains($0.0) }
        let settings = (model + options).map { (name: $0.0, value: $0.1.stringValue ?? $0.1.compact) }
        let metricsPath = folder + "/" + metricsFile
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else {
            throw RunLoadError(description: "cannot read '\(metricsPath)'")
        }
        var points: [MetricPoint] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (number, line) in lines.enumerated() where !line.allSatisfy(\.isWhitespace) {
            guard let json = try? JSON.parse(String(line)), let point = MetricPoint(json) else {
                // A run still being written may end in a partial line; anything else is an error.
                if number == lines.count - 1 { break }
                throw RunLoadError(description: "\(metricsPath):\(number + 1): not a metrics line")
            }
            points.append(point)
        }
        return RunData(
            path: folder,
            recipeName: recipe?.member("name")?.stringValue ?? "?",
            recipeSHA: recipe?.member("sha256")?.stringValue ?? "",
            hyperparameters: hyper.sorted { $0.name < $1.name },
            settings: settings,
            dataSummary: config.member("data")?.member("summary")?.stringValue ?? "",
            seed: config.member("seed")?.compact ?? "?",
            optimizerStateBytes: config.member("optimizer_state_bytes")?.intValue,
            points: points.sorted { $0.step < $1.step })
    }

    private static func readJSON(_ path: String) throws(RunLoadError) -> JSON {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RunLoadError(description: "cannot read '\(path)'")
        }
        do {
            return try JSON.parse(text)
        } catch {
            throw RunLoadError(description: "\(path): \(error)")
        }
    }
}

extension MetricPoint {
    /// Reads one `metrics.jsonl` object; nil without an integer `step`.
    init?(_ json: JSON) {
        guard let step = json.member("step")?.intValue else { return nil }
        self.step = step
        trainLoss = json.member("train_loss")?.doubleValue
        valLoss = json.member("val_loss")?.doubleValue
        bayesLoss = json.member("bayes_loss")?.doubleValue
        tokensPerSecond = json.member("tokens_per_s")?.doubleValue
        elapsed = json.member("elapsed_s")?.doubleValue
        for (name, values) in json.member("log")?.objectValue ?? [] {
            var byParameter: [String: Double] = [:]
            for (parameter, value) in values.objectValue ?? [] { byParameter[parameter] = value.doubleValue }
            log[name] = byParameter
        }
    }
}

extension JSON {
    /// The value under `key` of an object (`Training`'s subscript is internal to it).
    func member(_ key: String) -> JSON? { objectValue?.first { $0.0 == key }?.1 }
}
