import Foundation
import RecipeLanguage
import Testing

@testable import RecipeCompiler

/// The Python exports read like the recipe: bindings are locals named after them, values used
/// once are written inline, and only values that cross a stage go through the `e` dict.
@Suite struct PythonSpellingTests {
    static func export(_ text: String, to target: ExportTarget = .numpy) throws -> String {
        let output = Checker.check(SourceFile(path: "probe.opt", text: text))
        let recipe = try #require(output.recipe, "the probe recipe does not check")
        return try PythonExporter.export(recipe, to: target, sourceText: text, version: "test")
    }

    /// The statements of the group function `name`, without comments.
    static func body(_ module: String, group name: String) -> [String] {
        let lines = module.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("def _group_\(name)(") }) else { return [] }
        let rest = lines[(start + 1)...].prefix { $0.isEmpty || $0.hasPrefix(" ") }
        return rest.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    @Test func adamWBindingsAreLocalsAndNothingGoesThroughTheValueDict() throws {
        let text = try String(contentsOfFile: "Recipes/adamw.opt", encoding: .utf8)
        for target in ExportTarget.allCases {
            let body = Self.body(try Self.export(text, to: target), group: "all")
            for binding in ["eta", "m", "v", "v_hat"] {
                #expect(body.contains { $0.hasPrefix("\(binding) = ") }, "\(target): no local \(binding)")
            }
            #expect(
                !body.contains { $0.range(of: #"\be\[\d"#, options: .regularExpression) != nil },
                "\(target): a one-stage group needs no value dict")
            let kept: String
            switch target {
            case .numpy: kept = "st[\"m\"] = np.broadcast_to(m, "
            case .pytorch: kept = "for st, _v in zip(states, m): st[\"m\"] = _v  #"
            case .optax: kept = "st[\"m\"] = m  #"
            }
            #expect(body.contains { $0.hasPrefix(kept) }, "\(target)")
        }
    }

    /// In the PyTorch export a new state value is stored without a copy; `g`, which the
    /// caller owns, is still copied.
    @Test func pytorchExportStoresNewStateWithoutACopyButCopiesTheGradient() throws {
        let text = """
            optimizer probe "state written from the gradient and from arithmetic"

            hyper beta = 0.9

            group w: all {
                state G_prev = zeros
                noise = rms(G - G_prev)
                G_prev = G
                u = momentum(G, beta)
                X -= u * noise
            }
            """
        let body = Self.body(try Self.export(text, to: .pytorch), group: "w")
        #expect(body.contains { $0.hasPrefix("for st, _v in zip(states, u): st[\"u\"] = _v  #") })
        #expect(
            body.contains {
                $0.hasPrefix("for st, _v in zip(states, G): st[\"G_prev\"] = torch.broadcast_to(_v, ")
                    && $0.contains(".clone()")
            })
    }

    /// The PyTorch export computes each element-wise value for all of a group's members with
    /// one multi-tensor operation, in place in a list that nothing else reads: a state's old
    /// value read once, `X` read once; `β·v + (1 − β)·g²` and `x − s·m/d` are one fused
    /// operation each, as in torch.optim's AdamW.
    @Test func pytorchExportUpdatesInPlaceWhatNothingElseReadsAndFusesMultiplyAdds() throws {
        let adamw = Self.body(
            try Self.export(try String(contentsOfFile: "Recipes/adamw.opt", encoding: .utf8), to: .pytorch),
            group: "all")
        for line in [
            "torch._foreach_mul_(m_old, hp[\"beta1\"])", "torch._foreach_add_(m_old, G, alpha=1.0 - hp[\"beta1\"])",
            "torch._foreach_addcmul_(v_old, G, G, value=1.0 - hp[\"beta2\"])",
        ] {
            #expect(adamw.contains(line), "\(line)")
        }
        #expect(adamw.contains { $0.hasPrefix("torch._foreach_addcdiv_(X, m, v_hat, value=-") })
        let text = """
            optimizer probe "old values read twice"

            group w: all {
                state m = zeros
                n = m * 2
                m = 0.9 * m + G
                X -= 0.1 * (m + n) * rms(X)
            }
            """
        let body = Self.body(try Self.export(text, to: .pytorch), group: "w")
        #expect(!body.contains { $0.hasPrefix("torch._foreach_mul_(m_old") }, "m's old value is also read by n")
        #expect(!body.contains { $0.hasPrefix("torch._foreach_") && $0.contains("_(X,") }, "X is also read by rms")
        #expect(body.contains { $0.hasPrefix("x_new = torch._foreach_") })
    }

    @Test func valuesThatCrossAStageAreCarriedUnderTheirNames() throws {
        let text = """
            optimizer probe "a group reduction between two stages"

            hyper lr = 0.1

            group w: all {
                r = rms(G)
                top = group_max(r)
                X -= lr * r / top * G
            }
            """
        let body = Self.body(try Self.export(text), group: "w")
        #expect(body.contains { $0.hasPrefix("r = ") })
        let kept = try #require(Self.node(of: "_t4", in: body), "lr * r is kept for the second stage")
        #expect(body.contains("_t4 = e[\(kept)]"), "and taken back under its name")
        #expect(body.contains { $0.hasPrefix("top = e[") }, "the reduction's value has the binding's name")
        #expect(!body.contains { $0.hasPrefix("r = e[") }, "r itself is read again only by the reduction")
        #expect(body.contains("x_new = x - (_div(_t4, top) * g)"), "a division of two numbers is IEEE's")
    }

    /// The node number under which `name` is stored in `e` (`e[7] = name`).
    static func node(of name: String, in body: [String]) -> Int? {
        for line in body where line.hasPrefix("e[") && line.contains("] = \(name)  #") {
            return Int(line.dropFirst(2).prefix { $0.isNumber })
        }
        return nil
    }

    @Test func bindingsThatArePythonKeywordsOrGeneratedNamesAreRenamed() throws {
        let text = """
            optimizer probe "names Python reserves"

            hyper lr = 0.1

            group w: all {
                lambda = lr * 2
                x = G * G
                X -= lambda * x + lambda * G
            }
            """
        let body = Self.body(try Self.export(text), group: "w")
        #expect(body.contains { $0.hasPrefix("lambda_ = ") })
        #expect(body.contains { $0.hasPrefix("x_2 = ") }, "the recipe's x is not the parameter's x")
        #expect(!body.contains { $0.hasPrefix("lambda = ") || $0.hasPrefix("x = g") })
    }

    @Test(arguments: [
        ("x", true), ("hp[\"lr\"]", true), ("_unary(\"sqrt\", v)", true), ("e[12]", true), ("1.0", true),
        ("a + b", false), ("-x", false), ("f(a) + g(b)", false), ("(a) * (b)", false), ("hp[\"a\"] * x", false),
        ("1e-08", false), ("x.T", true),
    ])
    func atomsNeedNoParentheses(_ text: String, _ atom: Bool) {
        #expect(GroupSpelling.isAtom(text) == atom, "\(text)")
    }
}
