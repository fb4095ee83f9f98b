/// The first stage of compiling a fused pass: which values it reads from outside, and which
/// of its nodes fold into patterns that one instruction computes.
///
/// - A product or quotient of a tensor and a scalar read only by one sum or difference folds
///   into it (`a·s + b` is one fused multiply-add instead of two passes over the chunk).
/// - `x / (sqrt(y) + e)` (Adam's, RMSprop's, AdaBelief's denominator), with `y` possibly a
///   scaled tensor (`y·r` or `y / r`) and `x` possibly a tensor times a scalar, is one root
///   quotient.
struct RegionPatterns {
    /// A tensor times (or divided by) a scalar, folded into the sum that reads it.
    struct ScaledTensor: Equatable {
        var tensor: Int
        var scalar: Int
        /// True for `tensor / scalar` (multiplication by the reciprocal).
        var reciprocal: Bool
    }

    /// How the radicand of a root quotient is scaled.
    enum RadicandScale: Equatable {
        /// `sqrt(y·s)`
        case times(Int)
        /// `sqrt(y / s)`
        case dividedBy(Int)
    }

    /// `x·numeratorScale / (sqrt(radicand·scale) + epsilon)`.
    struct RootQuotient: Equatable {
        var x: Int
        /// A scalar the numerator is multiplied by (`eta·m / (…)`), or nil.
        var numeratorScale: Int?
        var radicand: Int
        var scale: RadicandScale?
        var epsilon: Int
    }

    /// Member nodes in program order.
    let members: [Int]
    /// Nodes stored for use outside the pass.
    let materialized: Set<Int>
    /// External tensor nodes read by the pass, in first-read order.
    let tensorInputs: [Int]
    /// External scalar nodes read by the pass, in first-read order.
    let scalarInputs: [Int]
    /// Products folded into their one consumer, by product node.
    let folded: [Int: ScaledTensor]
    /// Root quotients, by quotient node.
    let rootQuotients: [Int: RootQuotient]
    /// Nodes a root quotient computes inside itself (its denominator's parts).
    let absorbed: Set<Int>

    /// True when `n` is computed by an instruction of its own.
    func isEmitted(_ n: Int) -> Bool { folded[n] == nil && !absorbed.contains(n) }

    init(region: GroupPlan.Region, nodes: [Node]) {
        members = region.nodes
        materialized = Set(region.materialized)
        let isMember = Set(members)
        var tensorInputs: [Int] = []
        var scalarInputs: [Int] = []
        for n in members {
            for j in nodes[n].inputs where !isMember.contains(j) {
                if nodes[j].type.level == .tensor {
                    if !tensorInputs.contains(j) { tensorInputs.append(j) }
                } else if !scalarInputs.contains(j) {
                    scalarInputs.append(j)
                }
            }
        }
        self.tensorInputs = tensorInputs
        self.scalarInputs = scalarInputs
        var consumers: [Int: [Int]] = [:]
        for n in members { for j in nodes[n].inputs where isMember.contains(j) { consumers[j, default: []].append(n) } }
        let scalarSet = Set(scalarInputs)
        let materialized = self.materialized

        func scaledParts(_ n: Int) -> ScaledTensor? {
            let node = nodes[n]
            guard node.inputs.count == 2 else { return nil }
            let (x, y) = (node.inputs[0], node.inputs[1])
            switch node.op {
            case .binary(.op(.multiply)):
                if scalarSet.contains(y) && !scalarSet.contains(x) {
                    return ScaledTensor(tensor: x, scalar: y, reciprocal: false)
                }
                if scalarSet.contains(x) && !scalarSet.contains(y) {
                    return ScaledTensor(tensor: y, scalar: x, reciprocal: false)
                }
            case .binary(.op(.divide)):
                if scalarSet.contains(y) && !scalarSet.contains(x) {
                    return ScaledTensor(tensor: x, scalar: y, reciprocal: true)
                }
            default: break
            }
            return nil
        }
        /// A member used once, inside this pass, and not stored.
        func privateValue(_ n: Int, readBy user: Int) -> Bool {
            isMember.contains(n) && !materialized.contains(n) && consumers[n] == [user]
        }

        var folded: [Int: ScaledTensor] = [:]
        for n in members where !materialized.contains(n) {
            guard let parts = scaledParts(n), let users = consumers[n], users.count == 1 else { continue }
            switch nodes[users[0]].op {
            case .binary(.op(.add)), .binary(.op(.subtract)):
                if nodes[users[0]].inputs[0] != nodes[users[0]].inputs[1] { folded[n] = parts }
            default: break
            }
        }
        var absorbed = Set<Int>()
        var rootQuotients: [Int: RootQuotient] = [:]
        for u in members {
            guard case .binary(.op(.divide)) = nodes[u].op else { continue }
            let (x, d) = (nodes[u].inputs[0], nodes[u].inputs[1])
            guard x != d, privateValue(d, readBy: u), case .binary(.op(.add)) = nodes[d].op else { continue }
            let (p, q) = (nodes[d].inputs[0], nodes[d].inputs[1])
            let (root, epsilon) = scalarSet.contains(q) ? (p, q) : (q, p)
            guard scalarSet.contains(epsilon), privateValue(root, readBy: d), case .unary(.sqrt) = nodes[root].op
            else { continue }
            var radicand = nodes[root].inputs[0]
            var scale: RadicandScale?
            if privateValue(radicand, readBy: root), let parts = scaledParts(radicand) {
                absorbed.insert(radicand)
                scale = parts.reciprocal ? .dividedBy(parts.scalar) : .times(parts.scalar)
                radicand = parts.tensor
            }
            var numerator = x
            var numeratorScale: Int?
            if privateValue(x, readBy: u), let parts = scaledParts(x), !parts.reciprocal {
                absorbed.insert(x)
                numerator = parts.tensor
                numeratorScale = parts.scalar
            }
            absorbed.insert(root)
            absorbed.insert(d)
            rootQuotients[u] = RootQuotient(
                x: numerator, numeratorScale: numeratorScale, radicand: radicand, scale: scale, epsilon: epsilon)
        }
        for n in absorbed { folded[n] = nil }
        // `a·s − b·u` has no single instruction: keep the subtrahend's product separate.
        for n in members {
            if case .binary(.op(.subtract)) = nodes[n].op, folded[nodes[n].inputs[0]] != nil {
                folded[nodes[n].inputs[1]] = nil
            }
        }
        self.folded = folded
        self.rootQuotients = rootQuotients
        self.absorbed = absorbed
    }
}
