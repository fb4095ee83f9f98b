import Foundation
import Testing

@testable import OptlangCLI

/// Every recipe of the library (shipped, examples, ablations) exported to numpy and replayed
/// with Python matches `optlang replay` on the same trace; so does the PyTorch export, where
/// torch imports (skipped, with the reason, where it does not; required in CI). Also with
/// hyperparameters set (`--set`), with values that overflow, through a PyTorch `state_dict`
/// round trip and under DDP.
@Suite struct ExportTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// The library's recipes, as paths under `Recipes/` without `.opt`.
    static let recipes: [String] = ["", "examples/", "ablations/", "torch/"].flatMap { sub in
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: RunCommandTests.recipesFolder + "/" + sub)) ?? []
        return names.filter { $0.hasSuffix(".opt") }.sorted().map { sub + $0.dropLast(4) }
    }

    /// A fixed trace: every role, square, tall and wide matrices, a vector; 5 steps.
    static func writeTrace(to path: String) throws {
        try ReplayTrace.write(to: path, parameters: ReplayTrace.small, steps: 5)
    }

    /// A value the result files may hold that is not a number.
    struct NotANumber: Error, CustomStringConvertible {
        var description: String
    }

    /// Parameters by name from a RESULT.json. A value is a number, `null` (how `optlang
    /// replay` writes a value that is not finite) or one of the strings "nan", "inf", "-inf"
    /// (how the Python scripts write them); anything else is an error, never a dropped value.
    static func result(_ path: String) throws -> [String: [Double]] {
        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var out: [String: [Double]] = [:]
        for p in json["params"] as! [[String: Any]] {
            let name = p["name"] as! String
            guard let values = p["values"] as? [Any] else { throw NotANumber(description: "\(name): no values") }
            out[name] = try values.map { value in
                switch value {
                case let number as NSNumber: return number.doubleValue
                case is NSNull: return .nan
                case "inf" as String: return .infinity
                case "-inf" as String: return -.infinity
                case "nan" as String: return .nan
                default: throw NotANumber(description: "\(name): \(value)")
                }
            }
        }
        return out
    }

    /// The largest relative difference between two results over every parameter. A parameter
    /// missing from either side, or of another size, or a value finite on one side only, is an
    /// infinite difference; values not finite on both sides agree (the replay's `null` does not
    /// say which), unless both are infinities of opposite signs.
    static func worstRelativeError(_ a: [String: [Double]], _ b: [String: [Double]]) -> Double {
        if Set(a.keys) != Set(b.keys) { return .infinity }
        var worst = 0.0
        for (name, x) in b {
            guard let y = a[name], y.count == x.count else { return .infinity }
            for (u, v) in zip(y, x) {
                switch (u.isFinite, v.isFinite) {
                case (true, true): worst = max(worst, abs(u - v) / max(1, abs(v)))
                case (false, false): if u.isInfinite && v.isInfinite && u != v { return .infinity }
                default: return .infinity
                }
            }
        }
        return worst
    }

    @Test func theComparisonFailsOnMissingAndOneSidedValuesAndAcceptsSharedOverflow() {
        let base = ["w": [1.0, 2.0]]
        #expect(Self.worstRelativeError(base, base) == 0)
        #expect(Self.worstRelativeError(base, ["w": [1.0, 2.0], "v": [3.0]]) == .infinity, "missing on one side")
        #expect(Self.worstRelativeError(["w": [1.0, 2.0], "v": [3.0]], base) == .infinity, "missing on the other")
        #expect(Self.worstRelativeError(base, ["w": [1.0]]) == .infinity)
        #expect(Self.worstRelativeError(["w": [1.0, .nan]], base) == .infinity, "not finite on one side")
        #expect(Self.worstRelativeError(["w": [1.0, 2.0]], ["w": [1.0, .infinity]]) == .infinity)
        #expect(Self.worstRelativeError(["w": [1.0, .nan]], ["w": [1.0, -.infinity]]) == 0, "null against -inf")
        #expect(Self.worstRelativeError(["w": [.infinity]], ["w": [-.infinity]]) == .infinity)
        #expect(Self.worstRelativeError(["w": [1.0, 2.0]], ["w": [1.0, 2.5]]) == 0.2)
    }

    @Test func resultsReadNullAndTheNonFiniteStringsAndRefuseAnythingElse() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try #"{"params":[{"name":"w","values":[1.5,null,"inf","-inf","nan"]}]}"#.write(
            toFile: s.file("r.json"), atomically: true, encoding: .utf8)
        let w = try #require(try Self.result(s.file("r.json"))["w"])
        #expect(w[0] == 1.5 && w[1].isNaN && w[2] == .infinity && w[3] == -.infinity && w[4].isNaN)
        try #"{"params":[{"name":"w","values":[1.5,"big"]}]}"#.write(
            toFile: s.file("bad.json"), atomically: true, encoding: .utf8)
        #expect(throws: NotANumber.self) { try Self.result(s.file("bad.json")) }
    }

    /// Exports `recipe` to `target` with `sets`, replays the trace at `trace` through it and
    /// through `optlang replay` with the same `sets`: the worst relative difference.
    static func exportAgainstReplay(
        _ recipe: String, to target: String, sets: [String] = [], trace: String, scratch s: Scratch,
        scriptArguments: [String] = []
    ) throws -> Double {
        let path = recipe.hasPrefix("/") ? recipe : RunCommandTests.recipesFolder + "/\(recipe).opt"
        let setArguments = sets.flatMap { ["--set", $0] }
        let console = Console.capture()
        try #require(
            CLI.main(["export", path, "--to", target, "-o", s.file("exported.py")] + setArguments, console: console)
                == 0,
            "\(console.capturedError)")
        try #require(
            CLI.main(
                ["replay", path, "--trace", trace, "--out", s.file("swift.json")] + setArguments, console: console)
                == 0, "\(console.capturedError)")
        let script = "Export/replay_\(target == "pytorch" ? "torch" : target).py"
        let run = try Python.run(
            [
                Self.folder.appendingPathComponent(script).path, s.file("exported.py"), trace, s.file("python.json"),
            ] + scriptArguments)
        try #require(run.status == 0, "\(run.output)")
        try #require(!run.output.hasPrefix("SKIPPED"), "\(target) is required here: \(run.output)")
        return Self.worstRelativeError(try Self.result(s.file("python.json")), try Self.result(s.file("swift.json")))
    }

    /// Exports `recipe` to `target` (with `sets`) and expects it within 1e-5 of `optlang
    /// replay` on the fixed trace.
    static func checkAgainstReplay(_ recipe: String, to target: String, sets: [String] = []) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let error = try Self.exportAgainstReplay(
            recipe, to: target, sets: sets, trace: s.file("trace.json"), scratch: s)
        #expect(error <= 1e-5, "\(recipe) \(sets) → \(target): relative error \(error)")
    }

    /// Exports the recipe at `path` to PyTorch (with `sets`), runs `Export/<script>` on it and
    /// the fixed trace, and expects each of `lines` in what it prints.
    static func checkTorchScript(_ script: String, recipe path: String, sets: [String] = [], expecting lines: [String])
        throws
    {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let console = Console.capture()
        try #require(
            CLI.main(
                ["export", path, "--to", "pytorch", "-o", s.file("exported.py")] + sets.flatMap { ["--set", $0] },
                console: console) == 0, "\(console.capturedError)")
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/" + script).path, s.file("exported.py"), s.file("trace.json"),
        ])
        #expect(run.status == 0, "\(run.output.suffix(2000))")
        try #require(!run.output.hasPrefix("SKIPPED"), "torch is required here: \(run.output)")
        for line in lines { #expect(run.output.contains(line), "\(path): \(run.output.suffix(2000))") }
    }

    /// Hyperparameters away from their defaults: SGD's momentum, Nesterov and weight-decay
    /// paths (all off by default), and others of each family.
    static let settings: [(String, [String])] = [
        ("sgd", ["mu=0.9"]), ("sgd", ["mu=0.9", "nesterov=1"]), ("sgd", ["mu=0.5", "wd=0.01", "lr=0.01"]),
        ("adamw", ["beta1=0.8", "wd=0.1", "warmup=2", "decay_to=0.1"]), ("lion", ["wd=0.1", "beta2=0.9"]),
        ("nalr", ["lr=0.05", "beta2=0.8", "sign_lr=1e-3"]), ("muon", ["wd=0.1"]),
    ]

    @Test(arguments: settings)
    func numpyExportWithSetMatchesReplayWithSet(_ recipe: String, _ sets: [String]) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        _ = try Self.exportAgainstReplay(recipe, to: "numpy", trace: s.file("trace.json"), scratch: s)
        let defaults = try Self.result(s.file("swift.json"))
        let error = try Self.exportAgainstReplay(
            recipe, to: "numpy", sets: sets, trace: s.file("trace.json"), scratch: s)
        #expect(error <= 1e-5, "\(recipe) \(sets): relative error \(error)")
        // The setting reached the step: the result differs from the defaults'.
        let changed = Self.worstRelativeError(defaults, try Self.result(s.file("swift.json")))
        #expect(changed > 1e-4, "\(sets) changed nothing (\(changed))")
    }

    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)), arguments: settings)
    func pytorchExportWithSetMatchesReplayWithSet(_ recipe: String, _ sets: [String]) throws {
        try Self.checkAgainstReplay(recipe, to: "pytorch", sets: sets)
    }

    /// SGD at a rate that overflows: parameters become infinite, then NaN; the export must
    /// agree with the replay on which values are still finite.
    static func checkOverflow(_ target: String, scriptArguments: [String] = [], tolerance: Double = 1e-5) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let error = try Self.exportAgainstReplay(
            "sgd", to: target, sets: ["lr=1e38", "mu=0.9"], trace: s.file("trace.json"), scratch: s,
            scriptArguments: scriptArguments)
        #expect(error <= tolerance, "relative error \(error)")
        let values = try Self.result(s.file("swift.json")).values.flatMap { $0 }
        #expect(values.contains { !$0.isFinite }, "some values overflowed")
        #expect(values.contains { $0.isFinite }, "some values stayed finite")
    }

    @Test(.enabled(if: Python.jaxTests, Comment(rawValue: Python.jaxSkipReason)), arguments: settings)
    func optaxExportWithSetMatchesReplayWithSet(_ recipe: String, _ sets: [String]) throws {
        try Self.checkAgainstReplay(recipe, to: "optax", sets: sets)
    }

    @Test func numpyExportAgreesWithReplayWhereValuesOverflow() throws { try Self.checkOverflow("numpy") }

    /// The PyTorch export computes `x − lr·b` and `g + μ·buf` as one fused multiply-add each
    /// (`_foreach_sub(x, b, alpha=lr)`, as torch.optim.SGD does), which rounds once where
    /// optlang rounds twice, and this trace's cancellations magnify that to 5.1e-5 (2.8e-5 on
    /// another trace, where the same module with each fused operation written as a multiply
    /// then an add differs by 0). Which values overflow must still agree exactly.
    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)))
    func pytorchExportAgreesWithReplayWhereValuesOverflow() throws {
        try Self.checkOverflow("pytorch", tolerance: 1e-4)
    }

    /// Operation by operation: under `jax.jit`, XLA fuses `x - lr·m` into one fused
    /// multiply-add on CPUs that have one (Zen 1 here), and this trace's cancellations magnify
    /// that single rounding to 4.7e-5 (0 eagerly, and 0 under jit with
    /// `XLA_FLAGS=--xla_cpu_max_isa=AVX`, which has no FMA). Every other Optax test runs jitted.
    @Test(.enabled(if: Python.jaxTests, Comment(rawValue: Python.jaxSkipReason)))
    func optaxExportAgreesWithReplayWhereValuesOverflow() throws {
        try Self.checkOverflow("optax", scriptArguments: ["--eager"])
    }

    /// The Optax export as a JAX user runs it (`Export/optax_check.py`): a nested pytree of
    /// parameters, state named by parameter and slot, `optax.inject_hyperparams` changing the
    /// rate, `jax.lax.scan` over jitted steps (logs included), and pure `update`.
    @Test(
        .enabled(if: Python.jaxTests, Comment(rawValue: Python.jaxSkipReason)),
        arguments: ["adamw", "muon", "nalr", "sgd", "examples/lamb"])
    func optaxExportWorksWithPytreesInjectedHyperparametersAndScan(_ name: String) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        try Self.writeTrace(to: s.file("trace.json"))
        let console = Console.capture()
        try #require(
            CLI.main(
                [
                    "export", RunCommandTests.recipesFolder + "/\(name).opt", "--to", "optax", "-o",
                    s.file("exported.py"),
                ],
                console: console) == 0, "\(console.capturedError)")
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/optax_check.py").path, s.file("exported.py"),
            s.file("trace.json"),
        ])
        #expect(run.status == 0, "\(run.output.suffix(2000))")
        try #require(!run.output.hasPrefix("SKIPPED"), "jax is required here: \(run.output)")
        for line in [
            "nested pytree steps as the flat dict: True", "state named by parameter and slot: True",
            "inject_hyperparams sets the rate: True", "scan of jitted steps equals the loop: True",
            "update leaves its inputs unchanged: True",
        ] {
            #expect(run.output.contains(line), "\(name): \(run.output.suffix(2000))")
        }
    }

    @Test(
        .enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)),
        arguments: [
            ("nalr", [String]()), ("adamw", []), ("muon", []), ("sgd", ["mu=0.9", "nesterov=1"]), ("normuon", []),
        ])
    func pytorchStateDictRoundTripContinuesBitForBit(_ recipe: String, _ sets: [String]) throws {
        try Self.checkTorchScript(
            "state_dict_check.py", recipe: RunCommandTests.recipesFolder + "/\(recipe).opt", sets: sets,
            expecting: ["resumed equals straight: True; every parameter moved: True"])
    }

    @Test(arguments: recipes)
    func numpyExportMatchesReplay(_ name: String) throws {
        try Self.checkAgainstReplay(name, to: "numpy")
    }

    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)), arguments: recipes)
    func pytorchExportMatchesReplay(_ name: String) throws {
        try Self.checkAgainstReplay(name, to: "pytorch")
    }

    /// The Optax export, stepped under `jax.jit` with `optax.apply_updates`, as `optlang replay`.
    @Test(.enabled(if: Python.jaxTests, Comment(rawValue: Python.jaxSkipReason)), arguments: recipes)
    func optaxExportMatchesReplay(_ name: String) throws {
        try Self.checkAgainstReplay(name, to: "optax")
    }

    /// Numbers of `t` and the hyperparameters that divide by zero, leave the domain of a root
    /// or logarithm, or overflow (`Export/ieee_scalars.opt`): each export computes optlang's
    /// IEEE values where Python's arithmetic would raise (the numpy export raised
    /// `math domain error` on RAdam's first steps before).
    static let ieeeScalars = folder.appendingPathComponent("Export/ieee_scalars.opt").path

    @Test func numpyExportComputesIEEEValuesWherePythonNumbersWouldRaise() throws {
        try Self.checkAgainstReplay(Self.ieeeScalars, to: "numpy")
    }

    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)))
    func pytorchExportComputesIEEEValuesWherePythonNumbersWouldRaise() throws {
        try Self.checkAgainstReplay(Self.ieeeScalars, to: "pytorch")
    }

    /// The recipes of `Export/InPlace/`, each a way the PyTorch export's in-place updates and
    /// names once went wrong (found by review: a state keeping views of the parameter, two
    /// slots sharing a tensor, a copy taken after the parameter was written, bindings
    /// shadowing `zip` or a temporary, a float64 state): each replays as `optlang replay`
    /// does, and keeps its state float32 on the parameters' device (`device_check.py`).
    @Test(
        .enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)),
        arguments: try FileManager.default.contentsOfDirectory(
            atPath: folder.appendingPathComponent("Export/InPlace").path
        ).filter { $0.hasSuffix(".opt") }.sorted())
    func pytorchExportUpdatesInPlaceOnlyWhatNothingElseHolds(_ file: String) throws {
        let path = Self.folder.appendingPathComponent("Export/InPlace/" + file).path
        try Self.checkAgainstReplay(path, to: "pytorch")
        try Self.checkTorchScript(
            "device_check.py", recipe: path,
            expecting: ["meta steps: ok", "bfloat16 parameters updated in bfloat16: True; state float32: True"])
    }

    @Test(.enabled(if: Python.jaxTests, Comment(rawValue: Python.jaxSkipReason)))
    func optaxExportComputesIEEEValuesWherePythonNumbersWouldRaise() throws {
        try Self.checkAgainstReplay(Self.ieeeScalars, to: "optax")
    }

    /// Device and dtype (docs/export.md): no host synchronisation in `step` (meta tensors
    /// raise on one), state on the parameter's device, also after `load_state_dict`, and
    /// bfloat16 parameters with float32 state. Every library recipe and generated ones, whose
    /// per-layer conditions and group reductions the library does not all reach.
    @Test(
        .enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)),
        arguments: recipes + (1...6).map { "generated \($0)" })
    func pytorchExportRunsOnTheParametersDeviceWithoutHostSynchronisation(_ name: String) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        var path = RunCommandTests.recipesFolder + "/\(name).opt"
        if name.hasPrefix("generated ") {
            var generator = RecipeGenerator(seed: UInt64(name.dropFirst("generated ".count))!)
            path = s.file("generated.opt")
            try generator.recipe().write(toFile: path, atomically: true, encoding: .utf8)
            // Generated recipes may `use` the shipped AdamW, imported from beside them.
            try FileManager.default.copyItem(
                atPath: RunCommandTests.recipesFolder + "/adamw.opt", toPath: s.file("adamw.opt"))
        }
        try Self.checkTorchScript(
            "device_check.py", recipe: path,
            expecting: [
                "meta steps: ok", "state on the parameters' device: True",
                "loaded state on the parameters' device: True",
                "bfloat16 parameters updated in bfloat16: True; state float32: True",
            ])
    }

    /// `torch.compile` of the exported step (inductor on the CPU: about 15–30 s a recipe).
    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)), arguments: ["adamw", "nalr"])
    func torchCompileOfTheExportedStepFollowsTheEagerStep(_ name: String) throws {
        try Self.checkTorchScript(
            "compile_check.py", recipe: RunCommandTests.recipesFolder + "/\(name).opt",
            expecting: ["compiled step equals eager: True"])
    }

    /// `torch.optim.lr_scheduler` sets `param_groups[0]["lr"]`; the exported step reads it.
    @Test(
        .enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)),
        arguments: ["adamw", "muon", "nalr", "sgd"])
    func aLearningRateSchedulerChangesTheExportedStep(_ name: String) throws {
        try Self.checkTorchScript(
            "scheduler_check.py", recipe: RunCommandTests.recipesFolder + "/\(name).opt",
            expecting: ["scheduler sets the rate: True"])
    }

    @Test(.enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)))
    func pytorchExportUnderDDPStepsAsOneProcessOnTheWholeBatch() throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe = RunCommandTests.recipesFolder + "/nalr.opt"
        #expect(
            CLI.main(["export", recipe, "--to", "pytorch", "-o", s.file("nalr_torch.py")], console: .capture()) == 0)
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/ddp_check.py").path, s.file("nalr_torch.py"),
        ])
        #expect(run.status == 0, "\(run.output)")
        try #require(!run.output.hasPrefix("SKIPPED"), "torch is required here: \(run.output)")
        #expect(run.output.contains("ranks identical: True"), "\(run.output)")
        #expect(run.output.contains("agrees with one process: True"), "\(run.output)")
        #expect(run.output.contains("parameters moved: True"), "\(run.output)")
    }

    /// FSDP2 (`fully_shard`, 2 gloo CPU processes, `Export/fsdp_check.py`): 4 steps on half
    /// the batch each end within 1e-5 of one process on the whole batch, with uneven shards
    /// and a process holding no rows of one matrix; a parameter sharded by columns is refused.
    /// `fsdp_reductions.opt` reaches every reduction that must add partial results across
    /// the processes.
    @Test(
        .enabled(if: Python.torchTests, Comment(rawValue: Python.torchSkipReason)),
        arguments: ["adamw", "muon", "nalr", "fsdp_reductions"])
    func pytorchExportUnderFSDP2StepsAsOneProcessOnTheWholeBatch(_ name: String) throws {
        let s = try Scratch([:])
        defer { s.remove() }
        let recipe =
            name == "fsdp_reductions"
            ? Self.folder.appendingPathComponent("Export/fsdp_reductions.opt").path
            : RunCommandTests.recipesFolder + "/\(name).opt"
        let console = Console.capture()
        try #require(
            CLI.main(["export", recipe, "--to", "pytorch", "-o", s.file("exported.py")], console: console) == 0,
            "\(console.capturedError)")
        let run = try Python.run([
            Self.folder.appendingPathComponent("Export/fsdp_check.py").path, s.file("exported.py"),
        ])
        #expect(run.status == 0, "\(run.output.suffix(2000))")
        try #require(!run.output.hasPrefix("SKIPPED"), "torch is required here: \(run.output)")
        #expect(run.output.contains("FSDP2 agrees with one process: True"), "\(name): \(run.output.suffix(2000))")
        #expect(run.output.contains("parameters moved: True"), "\(name): \(run.output.suffix(2000))")
        #expect(run.output.contains("a process held no rows of: gate"), "\(name): \(run.output.suffix(2000))")
        #expect(
            run.output.contains("a parameter sharded by columns is refused: True"),
            "\(name): \(run.output.suffix(2000))")
    }

    @Test func exportNeedsATarget() {
        let console = Console.capture()
        #expect(CLI.main(["export", "x.opt"], console: console) == 2)
        #expect(console.capturedError == "optlang export: missing '--to pytorch', '--to numpy' or '--to optax'\n")
        #expect(CLI.main(["export", "x.opt", "--to", "jax"], console: console) == 2)
    }
}
