import RecipeLanguage
import Testing

@testable import RecipeCompiler

/// The stages of compiling a fused pass, each on its own: patterns, register allocation.
@Suite struct RegionStageTests {
    /// The nodes and the first fused pass of a one-group recipe with `body`.
    static func firstPass(_ body: String) throws -> (nodes: [Node], region: GroupPlan.Region) {
        let text = "optimizer probe\nhyper lr = 0.5\nhyper eps = 0.25\ngroup w: all {\n\(body)\n}\n"
        let recipe = try #require(Checker.check(SourceFile(path: "probe.opt", text: text)).recipe, "\(body)")
        let group = try Lowering.lower(recipe).groups[0]
        for stage in group.plan.stages {
            for case .region(let region) in stage { return (group.nodes, region) }
        }
        throw CompileError("no fused pass")
    }

    static func op(_ nodes: [Node], _ n: Int) -> Op { nodes[n].op }

    @Test func aScaledTensorReadByOneDifferenceIsFoldedIntoIt() throws {
        let (nodes, region) = try Self.firstPass("    X -= lr * G")
        let patterns = RegionPatterns(region: region, nodes: nodes)
        #expect(patterns.folded.count == 1)
        let (product, parts) = try #require(patterns.folded.first)
        #expect(Self.op(nodes, product) == .binary(.op(.multiply)))
        #expect(Self.op(nodes, parts.tensor) == .gradient)
        #expect(Self.op(nodes, parts.scalar) == .constant(0.5))
        #expect(!parts.reciprocal)
    }

    @Test func adamsDenominatorIsOneRootQuotientWithADividedRadicand() throws {
        let (nodes, region) = try Self.firstPass("    X -= G / (sqrt(G * G / (1 - 0.999 ^ t)) + eps)")
        let patterns = RegionPatterns(region: region, nodes: nodes)
        #expect(patterns.rootQuotients.count == 1)
        let quotient = try #require(patterns.rootQuotients.values.first)
        #expect(Self.op(nodes, quotient.x) == .gradient)
        #expect(Self.op(nodes, quotient.radicand) == .binary(.op(.multiply)))
        guard case .dividedBy(let s) = quotient.scale else {
            Issue.record("radicand scale \(String(describing: quotient.scale)), want dividedBy")
            return
        }
        #expect(Self.op(nodes, s) == .binary(.op(.subtract)))
        #expect(Self.op(nodes, quotient.epsilon) == .constant(0.25))
        // The sqrt, the sum and the scaled radicand are computed inside the quotient.
        #expect(patterns.absorbed.count == 3)
    }

    @Test func aValueReadTwiceIsFreedOnceSoEveryReadFindsTheValueItWants() throws {
        let (nodes, region) = try Self.firstPass("    b = G + 0.5\n    X *= 1 - lr * lerp(b + b, G, 0.3)")
        let patterns = RegionPatterns(region: region, nodes: nodes)
        let allocation = RegisterAllocation(patterns, nodes: nodes)
        // Replay the program: the values an instruction finds in the registers it reads must
        // be the values its node reads (a store of a kept value reads the node itself).
        var holds: [Int: Int] = [:]
        for (instruction, n) in allocation.program {
            let reads: [Int]
            if case .store = instruction, !nodes[n].op.isSink {
                reads = [n]
            } else if let q = patterns.rootQuotients[n] {
                reads = [q.x, q.radicand]
            } else {
                reads = nodes[n].inputs.map { patterns.folded[$0]?.tensor ?? $0 }
            }
            let inRegisters = reads.filter { j in holds.values.contains(j) }.sorted()
            let found = Self.operands(instruction).compactMap { o -> Int? in
                if case .register(let r) = o { return holds[r] ?? -1 }
                return nil
            }.sorted()
            #expect(found == inRegisters, "%\(n) finds \(found) in its registers, wants \(inRegisters)")
            if let d = Self.destination(instruction) { holds[d] = n }
        }
    }

    @Test func aLongChainReusesTwoRegisters() throws {
        let (nodes, region) = try Self.firstPass("    X -= lr * sqrt(abs(exp(-abs(G)) + 1) + 2)")
        let allocation = RegisterAllocation(RegionPatterns(region: region, nodes: nodes), nodes: nodes)
        #expect(allocation.registerCount <= 2)
    }

    @Test func aScalarNumeratorOfARootQuotientGetsABroadcastSlot() throws {
        let (nodes, region) = try Self.firstPass("    X -= lr / (sqrt(abs(G)) + eps)")
        let allocation = RegisterAllocation(RegionPatterns(region: region, nodes: nodes), nodes: nodes)
        #expect(allocation.broadcast.map { Self.op(nodes, $0) } == [.constant(0.5)])
        #expect(throws: Never.self) {
            try CodeEmission.kernel(
                allocation, RegionPatterns(region: region, nodes: nodes), layouts: [.same], nodes: nodes)
        }
    }

    static func operands(_ i: RegisterAllocation.Instruction) -> [RegisterAllocation.Operand] {
        switch i {
        case .fill: return []
        case .unary(_, _, let a): return [a]
        case .binary(_, _, let a, let b): return [a, b]
        case .select(_, let c, let a, let b): return [c, a, b]
        case .fused(_, _, let a, _, let b): return [a, b]
        case .linear(_, let a, _, let b, _): return [a, b]
        case .rootQuotient(_, let x, _, let y, _, _): return [x, y]
        case .store(let a, _): return [a]
        }
    }

    static func destination(_ i: RegisterAllocation.Instruction) -> Int? {
        switch i {
        case .fill(let d, _), .unary(_, let d, _), .binary(_, let d, _, _), .select(let d, _, _, _),
            .fused(let d, _, _, _, _), .linear(let d, _, _, _, _), .rootQuotient(let d, _, _, _, _, _):
            return d
        case .store: return nil
        }
    }
}
