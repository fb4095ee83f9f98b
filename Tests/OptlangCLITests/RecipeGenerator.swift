import Foundation

/// Seeded random recipes that check, for differential testing of the back end.
///
/// Each recipe has one to three groups with random selectors (the last group takes `all`,
/// so every parameter is bound), random state of every kind, bindings of every value level,
/// built-ins with state, reductions, schedules, group reductions, conditionals, logs and
/// every form of update; now and then a group inlines the shipped AdamW with `use`.
/// Expressions are well-typed by construction and numerically tame, so that two correct
/// implementations agree to rounding: divisors are at least 1, roots and logarithms take
/// arguments bounded away from their singular points, and conditions compare only exact
/// inputs (`t`, hyperparameters, `G`), never values that rounding could move across a
/// threshold.
struct RecipeGenerator {
    /// Value levels, in the order of the language's broadcasting.
    enum Level: CaseIterable {
        case global, layer, row, column, tensor

        /// The levels an operand of a value of this level may have.
        var operands: [Level] {
            switch self {
            case .global: [.global]
            case .layer: [.global, .layer]
            case .row: [.global, .layer, .row]
            case .column: [.global, .layer, .column]
            case .tensor: Level.allCases
            }
        }
    }

    /// A state or binding in scope: its name and level.
    struct Name {
        var name: String
        var level: Level
    }

    private var seed: UInt64
    private var lines: [String] = []
    private var names: [Name] = []
    /// True in groups whose selector admits matrices only (matrix-only built-ins allowed).
    private var matrices = false
    private var counter = 0
    private let hypers = ["h0", "h1", "h2"]

    init(seed: UInt64) { self.seed = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678 }

    // MARK: Randomness

    private mutating func next() -> UInt64 {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var z = seed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    private mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    private mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

    private mutating func fresh(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)\(counter)"
    }

    // MARK: Recipes

    /// The recipe of this generator's seed.
    mutating func recipe() -> String {
        lines = ["optimizer fuzz \"a generated recipe\"", ""]
        let usesAdamW = chance(0.15)
        if usesAdamW { lines += ["import \"adamw.opt\" as adamw", ""] }
        lines.append("hyper lr = \(pick(["0.01", "0.02", "0.005"])) \"learning rate\"")
        for h in hypers { lines.append("hyper \(h) = \(pick(["0.1", "0.5", "0.9", "0.95", "2"]))") }
        var selectors = [
            ("matrix and role(attention, mlp)", true), ("role(embedding, head)", false), ("vector", false),
            ("matrix and layer(0)", true), ("name(\"blocks.1.*\")", false), ("not vector", false),
            ("layer(0..1) and matrix", true), ("role(norm) or role(bias)", false), ("dims(2)", true),
            ("dims(0..1) or layer(1)", false),
        ]
        let groups = 1 + below(3)
        for g in 0..<groups {
            let last = g == groups - 1
            let (selector, onlyMatrices) = last ? ("all", false) : selectors.remove(at: below(selectors.count))
            lines.append("")
            lines.append("group g\(g): \(selector) {")
            if last && usesAdamW && chance(0.5) {
                lines.append("    use adamw.all(lr: lr, beta1: h0, wd: 0.01)")
            } else {
                group(matrices: onlyMatrices)
            }
            lines.append("}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private mutating func group(matrices onlyMatrices: Bool) {
        names = []
        matrices = onlyMatrices
        var states: [Name] = []
        for _ in 0..<below(4) {
            let name = fresh("s")
            let (initial, level): (String, Level) = pick([
                ("zeros", .tensor), ("ones", .tensor), ("X", .tensor), ("zeros(row)", .row), ("ones(row)", .row),
                ("zeros(col)", .column), ("ones(col)", .column),
                ("0", .layer), ("1", .layer), ("h1", .layer),
            ])
            line("state \(name) = \(initial)")
            states.append(Name(name: name, level: level))
        }
        names = states
        for _ in 0..<(1 + below(4)) {
            let level = pick(Level.allCases)
            let name = fresh("b")
            line("\(name) = \(expr(level, depth: 2 + below(2)))")
            names.append(Name(name: name, level: level))
        }
        // State is clamped: a state that feeds on itself (`s = s * s`) would otherwise grow
        // until rounding, not the back end, decides the comparison.
        for state in states where chance(0.8) {
            let level = pick(state.level.operands)
            line("\(state.name) = clamp(\(expr(level, depth: 2)), -2, 2)")
        }
        let update = expr(pick([.tensor, .tensor, .row, .layer]), depth: 2 + below(2))
        switch below(5) {
        case 0: line("X += lr * \(update)")
        case 1: line("X *= 1 - lr * clamp(\(update), -1, 1)")
        case 2: line("X = X - lr * \(update)")
        default: line("X -= lr * \(update)")
        }
        if chance(0.3) {
            line("X -= lr * \(expr(.tensor, depth: 1))")
        }
        if chance(0.3) {
            line("log \(fresh("l")) = \(expr(pick([.global, .layer]), depth: 2))")
        }
    }

    private mutating func line(_ text: String) { lines.append("    " + text) }

    // MARK: Expressions

    /// An expression of exactly `level`, nested about `depth` deep.
    private mutating func expr(_ level: Level, depth: Int) -> String {
        if depth <= 0 || chance(0.2) { return leaf(level, depth: depth) }
        let a = expr(level, depth: depth - 1)
        let other = pick(level.operands)
        switch below(12) {
        case 0, 1: return "(\(a) + \(expr(other, depth: depth - 1)))"
        case 2: return "(\(a) - \(expr(other, depth: depth - 1)))"
        case 3, 4: return "\(a) * \(expr(other, depth: depth - 1))"
        case 5: return "\(a) / (abs(\(expr(other, depth: depth - 1))) + 1)"
        case 6: return "\(pick(["min", "max"]))(\(a), \(expr(other, depth: depth - 1)))"
        case 7: return "lerp(\(a), \(expr(other, depth: depth - 1)), \(pick(["0.3", "h0"])))"
        case 8:
            return pick([
                "abs(\(a))", "-\(a)", "square(clamp(\(a), -2, 2))", "sqrt(abs(\(a)) + 0.1)", "exp(-abs(\(a)))",
                "log(abs(\(a)) + 1)", "rsqrt(square(\(a)) + 1)", "clamp(\(a), -1, 1)", "(abs(\(a)) + 0.5) ^ 0.5",
            ])
        case 9:
            // A condition of a level the value can absorb.
            let condition = self.condition(level)
            return "(if \(condition) then \(a) else \(expr(other, depth: depth - 1)))"
        case 10 where level == .tensor:
            return pick([
                "momentum(\(a), \(pick(["h0", "0.9"])))", "momentum(\(a), 0.5, nesterov: true)",
                "momentum(\(a), h0, ema: false)", "ema_variance(\(a), \(pick(["h1", "0.99"])))",
            ])
        case 11 where level == .tensor && matrices:
            return "orthogonalize(\(a), steps: \(pick(["2", "5"])))"
        default:
            return "\(a) * \(leaf(other, depth: 0))"
        }
    }

    /// A boolean of a level the value at `level` can absorb; it compares exact inputs only.
    private mutating func condition(_ level: Level) -> String {
        var options = [
            "t > 1", "t <= 2", "h0 > 0.5", "not (t == 2)", "t > 1 and h1 < 1", "t != 3", "t >= 2 or h2 == 2",
        ]
        if level == .tensor { options += ["G > 0", "G < 0.1 or t > 2", "not (G > 0)"] }
        return pick(options)
    }

    /// A value of `level` without (much) nesting: names, inputs, reductions, schedules.
    private mutating func leaf(_ level: Level, depth: Int) -> String {
        let named = names.filter { $0.level == level }
        if !named.isEmpty && chance(0.35) { return pick(named).name }
        let inner = max(0, depth - 1)
        switch level {
        case .global:
            var options = ["0.5", "1.5", "lr", "h0", "h1", "h2", "t / T"]
            options += ["linear_warmup(2)", "cosine_decay(final: 0.1)", "wsd(warmup: 1, decay: 2)", "constant()"]
            if chance(0.3) {
                let x = expr(.layer, depth: inner)
                return pick(["group_max(abs(\(x)))", "group_mean(\(x))", "group_sum(\(x)) / 8"])
            }
            return pick(options)
        case .layer:
            if chance(0.5) {
                let x = tensorArgument(inner)
                var options = [
                    "rms(\(x))", "mean(\(x))", "norm(\(x)) / sqrt(numel)", "norm(\(x), l1) / numel",
                    "norm(\(x), linf)", "dualnorm(\(x), frobenius) / sqrt(numel)", "dualnorm(\(x), l1_to_linf) / numel",
                    "sum(\(x)) / numel",
                ]
                if matrices {
                    options += [
                        "norm(\(x), spectral)", "norm(\(x), nuclear) / rows", "dualnorm(\(x), rms_to_rms) / rows",
                        "dualnorm(\(x), spectral) / cols",
                    ]
                }
                return pick(options)
            }
            if chance(0.2) {
                return "layer_lr(1 / (abs(\(expr(.layer, depth: inner))) + 1), by: \(pick(["max", "mean"])))"
            }
            return pick(["sqrt(rows / cols)", "1 / sqrt(numel)", "rows / (rows + cols)"])
        case .row:
            let x = tensorArgument(inner)
            return pick(["mean(\(x), row)", "rms(\(x), row)", "norm(\(x), row) / sqrt(cols)", "sum(\(x), row) / cols"])
        case .column:
            let x = tensorArgument(inner)
            return pick(["mean(\(x), col)", "rms(\(x), col)", "norm(\(x), col) / sqrt(rows)", "sum(\(x), col) / rows"])
        case .tensor:
            return pick(["G", "G", "X", "sign(G)", "abs(G)", "G * G"])
        }
    }

    /// A tensor for a reduction: shallow, so reductions do not nest too deep.
    private mutating func tensorArgument(_ depth: Int) -> String {
        expr(.tensor, depth: min(depth, 1))
    }
}
