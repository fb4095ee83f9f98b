import Testing

@testable import RecipeLanguage

/// Checks `text` (imports served from `files`), returning the output.
func checkRecipe(_ text: String, files: [String: String] = [:]) -> Checker.Output {
    let sources = files
    return Checker.check(SourceFile(path: "main.opt", text: text)) { path in
        sources[path].map { SourceFile(path: path, text: $0) }
    }
}

/// The messages of every diagnostic, all files together.
func messages(_ output: Checker.Output) -> [String] {
    output.files.flatMap { $0.diagnostics.map(\.message) }
}

@Suite struct CheckerTests {
    @Test func shippedRecipesCheckClean() {
        for path in ShippedRecipes.paths {
            let output = Checker.check(ShippedRecipes.source(path))
            #expect(output.recipe != nil, "\(path): \(messages(output))")
            #expect(output.files.allSatisfy { $0.diagnostics.isEmpty }, "\(path): \(messages(output))")
        }
    }

    @Test func levelsFollowTheOperands() throws {
        let output = checkRecipe(
            """
            optimizer levels
            hyper lr = 0.1
            group g: matrix {
                a = lr * 2
                b = norm(G, spectral) * a
                c = G * b
                r = mean(square(G), row)
                d = c / sqrt(r)
                s = group_max(b)
                X -= s * d
            }
            """)
        let recipe = try #require(output.recipe, "\(messages(output))")
        let types = recipe.groups[0].statements.compactMap { s -> ValueType? in
            if case .bind(_, let e) = s { return e.type }
            return nil
        }
        #expect(types == [.global, .layer, .tensor, ValueType(.tensor, .row), .tensor, .global])
    }

    @Test func statefulPrimitivesGetNamedStateSlots() throws {
        let output = checkRecipe(
            """
            optimizer adam
            hyper lr = 0.1
            group g: all {
                m = momentum(G, 0.9)
                v = ema_variance(G, 0.999)
                h = momentum(norm(G), 0.5)
                state k = zeros(row)
                state n = 1
                X -= lr * m / sqrt(v) * h * k * n
            }
            """)
        let group = try #require(output.recipe?.groups.first, "\(messages(output))")
        #expect(group.states.map(\.name) == ["m", "v", "h", "k", "n"])
        #expect(group.states.map(\.type) == [.tensor, .tensor, .layer, ValueType(.tensor, .row), .layer])
    }

    @Test func useInlinesTheImportedGroupWithOverrides() throws {
        let adam = """
            optimizer adam
            hyper lr = 1e-3
            hyper beta1 = 0.9
            hyper wd = lr * 10
            group all: all {
                m = momentum(G, beta1)
                X *= 1 - lr * wd
                X -= lr * m
            }
            """
        let output = checkRecipe(
            """
            optimizer mine
            import "adam.opt" as adam
            hyper lr = 0.5
            group hidden: matrix {
                m = momentum(G, 0.95)
                X -= lr * orthogonalize(m)
            }
            group rest: all {
                use adam.all(lr: lr / 100)
            }
            """, files: ["adam.opt": adam])
        let recipe = try #require(output.recipe, "\(messages(output))")
        // lr is overridden and wd's default follows the override, so only beta1 stays adam's own.
        #expect(recipe.hypers.map(\.name) == ["lr", "adam.beta1"])
        #expect(recipe.hypers.map(\.defaultValue) == [0.5, 0.9])
        let rest = recipe.groups[1]
        #expect(rest.states.map(\.name) == ["m"])
        #expect(rest.statements.count == 3)
        // The override replaces adam's lr in the inlined statements.
        guard case .update(.subtract, let e) = rest.statements[2], case .binary(.multiply, let lhs, _) = e.kind,
            case .binary(.divide, let a, let b) = lhs.kind, case .hyper(0) = a.kind, case .constant(100) = b.kind
        else {
            Issue.record("unexpected inlined update: \(rest.statements[2])")
            return
        }
    }

    @Test func usingMatrixOnlyGroupFromVectorGroupIsAnError() {
        let muon = """
            optimizer muon
            hyper lr = 0.02
            group hidden: matrix {
                X -= lr * orthogonalize(G)
            }
            """
        let output = checkRecipe(
            """
            optimizer mine
            import "muon.opt" as muon
            group everything: all {
                use muon.hidden
            }
            """, files: ["muon.opt": muon])
        #expect(
            messages(output) == [
                "'muon.hidden' uses 'orthogonalize', which needs matrices, but group 'everything' may contain vectors"
            ])
    }

    @Test func dependentDefaultsFollowAnOverride() throws {
        let base = "optimizer base\nhyper lr = 1\nhyper half = lr / 2\ngroup all: all {\n    X -= half * G\n}\n"
        let output = checkRecipe(
            "optimizer mine\nimport \"base.opt\" as base\ngroup all: all {\n    use base.all(lr: 8)\n}\n",
            files: ["base.opt": base])
        let recipe = try #require(output.recipe, "\(messages(output))")
        guard case .update(_, let e) = recipe.groups[0].statements[0], case .binary(.multiply, let half, _) = e.kind
        else {
            Issue.record("unexpected statement")
            return
        }
        #expect(ConstantEvaluator(hypers: []).evaluate(half) == 4)
    }

    @Test func parenthesisedAndDoubleNegatedSelectorsStillGuaranteeMatrices() {
        for selector in ["not (vector)", "not not matrix", "(matrix) and all", "not role(norm, bias)"] {
            let output = checkRecipe("optimizer x\ngroup g: \(selector) {\n    X -= orthogonalize(G)\n}\n")
            #expect(messages(output).isEmpty, "\(selector): \(messages(output))")
        }
    }

    @Test func dimsSelectorsFromTwoUpGuaranteeMatricesAndOthersDoNot() {
        for selector in ["dims(2)", "dims(2..4)", "dims(3) and all"] {
            let output = checkRecipe("optimizer x\ngroup g: \(selector) {\n    X -= orthogonalize(G)\n}\n")
            #expect(messages(output).isEmpty, "\(selector): \(messages(output))")
        }
        for selector in ["dims(1..2)", "dims(0)", "not dims(2)"] {
            let output = checkRecipe("optimizer x\ngroup g: \(selector) {\n    X -= orthogonalize(G)\n}\n")
            #expect(
                messages(output).contains { $0.contains("orthogonalize") }, "\(selector): \(messages(output))")
        }
    }

    @Test func anEmptyOrMalformedDimsRangeIsAnError() {
        #expect(
            messages(checkRecipe("optimizer x\ngroup g: dims(4..2) { X -= G }\n")) == [
                "empty range of dimensions 4..2: the first number must not exceed the second"
            ])
        #expect(
            messages(checkRecipe("optimizer x\ngroup g: dims(two) { X -= G }\n")) == [
                "expected a number of dimensions (a whole number), found 'two'"
            ])
    }

    @Test func loggingTwiceOrLoggingAComparisonIsAnError() {
        let output = checkRecipe(
            "optimizer x\ngroup g: all {\n    log a = norm(G)\n    log a = rms(G)\n    log b = rows > cols\n    X -= G\n}\n"
        )
        #expect(
            messages(output) == [
                "'a' is logged twice in group 'g'", "'log' records numbers, but this is a comparison",
            ])
    }

    @Test func aBindingWithASyntaxErrorStillDefinesItsName() {
        let output = checkRecipe(
            "optimizer x\nhyper lr = 3x\ngroup g: all {\n    m = momentum(G, 0.9\n    X -= lr * m\n}\n")
        #expect(
            messages(output) == [
                "invalid number '3x'", "expected ',' or ')' in the arguments of 'momentum', found 'X'",
            ])
    }

    @Test func aHundredNestedParenthesesAreAllowed() {
        let deep = String(repeating: "(", count: 99) + "1" + String(repeating: ")", count: 99)
        #expect(messages(checkRecipe("optimizer x\nhyper lr = \(deep)\ngroup g: all { X -= lr * G }\n")).isEmpty)
    }

    @Test func missingImportIsReported() {
        let output = checkRecipe(
            "optimizer x\nimport \"nope.opt\" as nope\nhyper lr = 1\ngroup a: all { X -= lr * G }\n")
        #expect(messages(output) == ["cannot read imported recipe 'nope.opt' (looked for nope.opt)"])
    }

    @Test func predefinedNamesCannotBeRebound() {
        let output = checkRecipe("optimizer x\ngroup a: all {\n t = 1\n X -= G\n}\n")
        #expect(messages(output) == ["'t' cannot be bound: it is predefined (the step counter)"])
    }

    @Test func stateMustBeDeclaredWithAConstant() {
        let output = checkRecipe("optimizer x\ngroup a: all {\n state m = G\n X -= m\n}\n")
        #expect(
            messages(output) == ["a state's initial value must be a constant, 'zeros', 'ones', 'zeros(row)' or 'X'"])
    }

    @Test func perRowStateRejectsAFullTensor() {
        let output = checkRecipe("optimizer x\ngroup a: matrix {\n state v = zeros(row)\n v = G\n X -= G / v\n}\n")
        #expect(messages(output) == ["state 'v' holds a per-row tensor, but this is a tensor"])
    }

    @Test func groupsOutsideGroupsAreRejected() {
        let output = checkRecipe("optimizer x\nhyper a = norm(G)\ngroup g: all { X -= a * G }\n")
        #expect(messages(output).first == "'G' is only available inside a group")
    }
}

@Suite struct BindingTests {
    static let model: [ParameterInfo] = [
        ParameterInfo(name: "embed", role: .embedding, layer: nil, shape: [64, 16]),
        ParameterInfo(name: "blocks.0.attn.wq", role: .attention, layer: 0, shape: [16, 16]),
        ParameterInfo(name: "blocks.0.ln1.weight", role: .norm, layer: 0, shape: [16]),
        ParameterInfo(name: "blocks.1.mlp.up", role: .mlp, layer: 1, shape: [64, 16]),
        ParameterInfo(name: "head", role: .head, layer: nil, shape: [64, 16]),
    ]

    @Test func parametersGoToTheFirstMatchingGroup() throws {
        let output = checkRecipe(
            """
            optimizer x
            group hidden: matrix and role(attention, mlp) { X -= G }
            group late: layer(1..5) { X -= G }
            group ends: name("embed", "he?d") { X -= G }
            group rest: all { X -= G }
            """)
        let recipe = try #require(output.recipe, "\(messages(output))")
        #expect(try recipe.bind(Self.model) == [2, 0, 3, 0, 2])
    }

    @Test func dimsSelectsByTheExactNumberOfDimensions() throws {
        let model =
            Self.model + [
                ParameterInfo(name: "blocks.0.conv", role: .mlp, layer: 0, shape: [8, 4, 3, 3]),
                ParameterInfo(name: "scale", role: .norm, layer: nil, shape: []),
            ]
        let output = checkRecipe(
            """
            optimizer x
            group linear: dims(2) { X -= G }
            group kernels: dims(3..4) { X -= G }
            group flat: dims(0..1) { X -= G }
            """)
        let recipe = try #require(output.recipe, "\(messages(output))")
        #expect(try recipe.bind(model) == [0, 0, 2, 0, 0, 1, 2])
    }

    @Test func leftoverParametersAreListed() throws {
        let output = checkRecipe("optimizer x\ngroup hidden: matrix { X -= G }\n")
        let recipe = try #require(output.recipe)
        #expect(throws: BindingError.self) { try recipe.bind(Self.model) }
        do {
            _ = try recipe.bind(Self.model)
        } catch {
            #expect(error.message.contains("leaves 1 parameter without a group"))
            #expect(error.message.contains("blocks.0.ln1.weight (role norm, shape [16])"))
        }
    }

    @Test func globsMatchLikeAShell() {
        #expect(Glob.matches("blocks.*.attn.w?", "blocks.12.attn.wq"))
        #expect(!Glob.matches("blocks.*.attn.w?", "blocks.1.attn.wqk"))
        #expect(Glob.matches("*", ""))
        #expect(Glob.matches("a*b*c", "aXXbYYc"))
        #expect(!Glob.matches("a*b*c", "aXXbYY"))
    }
}
