import Foundation
import RecipeLanguage
import Training

/// Where an exported recipe runs.
public enum ExportTarget: String, Sendable, CaseIterable {
    /// A `torch.optim.Optimizer` subclass.
    case pytorch
    /// `init_state(params)` and `step(params, grads, state, t, total_steps)` over numpy arrays.
    case numpy
    /// `optimizer(total_steps, ...)` returning an `optax.GradientTransformation` (JAX).
    case optax

    /// The target's name in prose ("PyTorch").
    var displayName: String {
        switch self {
        case .pytorch: "PyTorch"
        case .numpy: "numpy"
        case .optax: "Optax (JAX)"
        }
    }
}

/// Writes a recipe's optimised step graph as Python: one function per group, statements in
/// the graph's order, stages separated by the group reductions, comments pointing back at
/// the recipe. Hyperparameters stay settable (they are not folded into constants).
public enum PythonExporter {
    public static func export(
        _ recipe: CheckedRecipe, overrides: [String: Double] = [:], to target: ExportTarget, sourceText: String,
        version: String
    ) throws(CompileError) -> String {
        let graph = try Lowering.lower(recipe, overrides: overrides, symbolicHyperparameters: true)
        var w = PythonWriter(recipe: recipe, graph: graph, target: target)
        w.source = SourceFile(path: recipe.path, text: sourceText)
        return w.module(sourceText: sourceText, version: version)
    }
}

/// Builds the module text.
struct PythonWriter {
    let recipe: CheckedRecipe
    let graph: StepGraph
    let target: ExportTarget
    var lines: [String] = []
    /// The recipe's text, for comments that quote each group's source lines.
    var source: SourceFile?

    init(recipe: CheckedRecipe, graph: StepGraph, target: ExportTarget) {
        self.recipe = recipe
        self.graph = graph
        self.target = target
    }

    var torch: Bool { target == .pytorch }
    var jax: Bool { target == .optax }
    /// The array library's name in the generated code.
    var lib: String { torch ? "torch" : jax ? "jnp" : "np" }
    /// The number of rows this process holds of the parameter `x`: all of them, except in
    /// the PyTorch export under FSDP2, which holds a block of rows (`x` its local matrix).
    var localRows: String { torch ? "x.shape[0]" : "rows" }

    mutating func emit(_ line: String = "", _ indent: Int = 0) {
        lines.append(line.isEmpty ? "" : String(repeating: "    ", count: indent) + line)
    }

    static func literal(_ v: Double) -> String {
        if v == v.rounded() && Swift.abs(v) < 1e15 { return String(format: "%.1f", v) }
        return "\(v)"
    }

    static func string(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func identifier(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    var className: String {
        recipe.name.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    // MARK: Module

    mutating func module(sourceText: String, version: String) -> String {
        let hash = SHA256.hexDigest(sourceText)
        emit("\"\"\"\(recipe.name)" + (recipe.title.map { ": \($0)" } ?? "") + ".")
        emit()
        emit(
            "Exported by optlang \(version) from \(recipe.path) (sha256 \(hash.prefix(16))…) for \(target.displayName)."
        )
        emit("Generated from the recipe's optimised step graph: edit the recipe and export again rather than")
        emit("editing this file. Comments name the recipe's state slots and the graph's nodes (%n, as")
        emit("printed by `optlang graph`).")
        emit("\"\"\"")
        emit()
        emit("import math")
        emit("import re")
        emit()
        switch target {
        case .pytorch:
            emit("import torch")
            emit("import torch.distributed as dist")
            emit()
            emit("try:")
            emit("from torch.distributed.tensor import DTensor, Shard", 1)
            emit("except ImportError:  # a torch built without distributed support")
            emit("DTensor = Shard = None", 1)
        case .numpy: emit("import numpy as np")
        case .optax:
            emit("from typing import NamedTuple")
            emit()
            emit("import jax")
            emit("import jax.numpy as jnp")
            emit("import optax")
        }
        emit()
        emit("HYPERPARAMETERS = {")
        for (name, value) in graph.hyperparameters { emit("\(Self.string(name)): \(Self.literal(value)),", 1) }
        emit("}")
        emit()
        helpers()
        selectors()
        for (g, group) in graph.groups.enumerated() { groupFunction(g, group) }
        switch target {
        case .pytorch: optimizerClass()
        case .numpy: numpyAPI()
        case .optax: optaxAPI()
        }
        return Self.withoutUnusedHelpers(lines).joined(separator: "\n") + "\n"
    }

    /// Whether `line` calls `name`: `name(` not preceded by a character of a longer name
    /// (`dist.all_reduce(` does not call `_reduce`).
    static func calls(_ line: String, _ name: String) -> Bool {
        var rest = line[...]
        while let found = rest.range(of: name + "(") {
            let before = found.lowerBound == line.startIndex ? nil : line[line.index(before: found.lowerBound)]
            if let c = before, c.isLetter || c.isNumber || c == "_" || c == "." {
                rest = line[found.upperBound...]
                continue
            }
            return true
        }
        return false
    }

    /// Drops top-level `def _helper(...)` blocks that nothing else in the module calls, so
    /// an export carries no dead code (repeated: helpers call helpers).
    static func withoutUnusedHelpers(_ lines: [String]) -> [String] {
        var current = lines
        while true {
            var blocks: [(name: String, range: Range<Int>)] = []
            var i = 0
            while i < current.count {
                let line = current[i]
                if line.hasPrefix("def _"), let paren = line.firstIndex(of: "(") {
                    let name = String(line[line.index(line.startIndex, offsetBy: 4)..<paren])
                    var j = i + 1
                    while j < current.count && (current[j].isEmpty || current[j].hasPrefix(" ")) { j += 1 }
                    blocks.append((name, i..<j))
                    i = j
                } else {
                    i += 1
                }
            }
            let unused = blocks.filter { block in
                !current.enumerated().contains { index, line in
                    !block.range.contains(index) && calls(line, block.name)
                }
            }
            if unused.isEmpty { return current }
            for block in unused.reversed() { current.removeSubrange(block.range) }
        }
    }

    // MARK: Helpers

    mutating func helpers() {
        let t = lib
        emit("ROLES = (" + ParameterRole.allCases.map { Self.string($0.rawValue) }.joined(separator: ", ") + ")")
        emit()
        emit("def default_role(name, shape):")
        emit("\"\"\"The optimizer role of a parameter from common module names (see docs/export.md).\"\"\"", 1)
        emit("n = name.lower()", 1)
        emit("if len(shape) < 2:", 1)
        emit("return \"bias\" if n.endswith(\"bias\") else \"norm\"", 2)
        emit("if re.search(r\"(wpe|pos|position)\", n):", 1)
        emit("return \"position\"", 2)
        emit("if re.search(r\"(wte|embed|tok)\", n):", 1)
        emit("return \"embedding\"", 2)
        emit("if re.search(r\"(lm_head|head|output|unembed)\", n):", 1)
        emit("return \"head\"", 2)
        emit("if re.search(r\"(attn|attention|q_proj|k_proj|v_proj|o_proj|wq|wk|wv|wo|c_attn)\", n):", 1)
        emit("return \"attention\"", 2)
        emit("return \"mlp\"", 1)
        emit()
        emit("def default_layer(name):")
        emit("\"\"\"The block index in names like `blocks.3.…`, `layers.3.…`, `h.3.…`, else None.\"\"\"", 1)
        emit("m = re.search(r\"(?:^|\\.)(?:blocks|layers|layer|h)\\.(\\d+)(?:\\.|$)\", name)", 1)
        emit("return int(m.group(1)) if m else None", 1)
        emit()
        emit("def _glob(pattern, name):")
        emit(
            "return re.fullmatch(\"\".join(\".*\" if c == \"*\" else \".\" if c == \"?\" else re.escape(c) for c in pattern), name) is not None",
            1)
        emit()
        if jax {
            jaxHelpers()
            return
        }
        emit("def _is_tensor(x):")
        emit("return isinstance(x, \(torch ? "torch.Tensor" : "np.ndarray"))", 1)
        emit()
        if torch {
            emit("def _tensors(a, b):")
            emit("\"\"\"Both operands as tensors on the tensor operand's device and of its dtype.\"\"\"", 1)
            emit("like = a if _is_tensor(a) else b", 1)
            emit(
                "return tuple(x if _is_tensor(x) else torch.full((), x, dtype=like.dtype, device=like.device) for x in (a, b))",
                1)
            emit()
            emit("def _per_layer(v, device):")
            emit("\"\"\"A per-layer value (a number or a 0-d tensor) as a 0-d float64 tensor on `device`.\"\"\"", 1)
            emit(
                "return v.to(torch.float64) if _is_tensor(v) else torch.full((), v, dtype=torch.float64, device=device)",
                1)
            emit()
            emit("def _scalar32(v, device):")
            emit(
                "\"\"\"A per-layer state value: rounded to float32, kept as a 0-d float64 tensor on `device`.\"\"\"", 1)
            emit("return _per_layer(v, device).to(torch.float32).to(torch.float64)", 1)
            emit()
            emit("def _layer_values(values):")
            emit(
                "\"\"\"Per-layer values as a multi-tensor operation takes them: all numbers, or all 0-d tensors.\"\"\"",
                1)
            emit("if not any(_is_tensor(v) for v in values):", 1)
            emit("return values", 2)
            emit("device = next(v.device for v in values if _is_tensor(v))", 1)
            emit("return [_per_layer(v, device) for v in values]", 1)
            emit()
            emit("def _elementwise(v, x, shape):")
            emit("\"\"\"An element-wise value that a choice returned (a number, a per-layer value, a tensor of", 1)
            emit("another extent) as a float32 tensor on x's device broadcast to `shape`.\"\"\"", 1)
            emit("if not _is_tensor(v):", 1)
            emit("v = torch.full((), v, dtype=torch.float32, device=x.device)", 2)
            emit("return torch.broadcast_to(v.to(torch.float32), shape)", 1)
            emit()
            emit("def _group_reduce(kind, values, device):")
            emit(
                "\"\"\"max, sum or mean over a group's per-layer values, on the device (no host synchronisation).\"\"\"",
                1)
            emit("v = torch.stack([_per_layer(x, device) for x in values])", 1)
            emit("return v.max() if kind == \"max\" else v.sum() if kind == \"sum\" else v.mean()", 1)
            emit()
            shardingHelpers()
        }
        emit("def _bool(x):")
        emit("\"\"\"A comparison's value as 1.0 / 0.0, element-wise for tensors.\"\"\"", 1)
        emit(
            torch
                ? "return x.to(torch.float32) if _is_tensor(x) else (1.0 if x else 0.0)"
                : "return x.astype(np.float32) if _is_tensor(x) else (1.0 if x else 0.0)", 1)
        emit()
        emit("def _select(c, a, b):")
        emit("if not (_is_tensor(c) or _is_tensor(a) or _is_tensor(b)):", 1)
        emit("return a if c != 0 else b", 2)
        if torch {
            emit("if not _is_tensor(c):", 1)
            emit("return a if c != 0 else b", 2)
            emit("if not (_is_tensor(a) or _is_tensor(b)):", 1)
            emit("# Two numbers: a per-layer choice stays in double precision, an element-wise one in float32.", 2)
            emit("a = torch.full((), a, dtype=torch.float64 if c.dim() == 0 else torch.float32, device=c.device)", 2)
            emit("return torch.where(c != 0, a, b)", 1)
        } else {
            emit("return np.where(np.asarray(c) != 0, a, b).astype(np.float32)", 1)
        }
        emit()
        emit("def _unary(name, x):")
        emit("\"\"\"math.* on Python numbers (double precision), \(t).* on tensors (float32).\"\"\"", 1)
        emit("if _is_tensor(x):", 1)
        emit("if name == \"rsqrt\":", 2)
        emit("return 1.0 / \(t).sqrt(x)", 3)
        emit("return getattr(\(t), name)(x)", 2)
        emit("if name == \"rsqrt\":", 1)
        emit("r = _unary(\"sqrt\", x)", 2)
        emit("return 1.0 / r if r != 0 else math.copysign(math.inf, r)", 2)
        emit("if name == \"sign\":", 1)
        emit("return (x > 0) - (x < 0) if x == x else x", 2)
        emit("if name == \"abs\":", 1)
        emit("return abs(x)", 2)
        emit("try:", 1)
        emit("return getattr(math, name)(x)", 2)
        emit("except (ValueError, OverflowError):", 1)
        emit("return _ieee(name, x)", 2)
        emit()
        emit("def _minimum(a, b):")
        emit("if _is_tensor(a) or _is_tensor(b):", 1)
        if torch { emit("a, b = _tensors(a, b)", 2) }
        emit("return \(t).minimum(a, b)", 2)
        emit("return math.nan if a != a or b != b else min(a, b)", 1)
        emit()
        emit("def _maximum(a, b):")
        emit("if _is_tensor(a) or _is_tensor(b):", 1)
        if torch { emit("a, b = _tensors(a, b)", 2) }
        emit("return \(t).maximum(a, b)", 2)
        emit("return math.nan if a != a or b != b else max(a, b)", 1)
        emit()
        emit("def _power(a, b):")
        emit("if _is_tensor(a) or _is_tensor(b):", 1)
        emit(torch ? "return torch.pow(a, b)" : "return np.power(a, b, dtype=np.float32)", 2)
        emit("try:", 1)
        emit("return math.pow(a, b)", 2)
        emit("except (ValueError, OverflowError):", 1)
        emit("return _ieee(\"pow\", a, b)", 2)
        emit()
        emit("def _div(a, b):")
        emit("\"\"\"a / b, as IEEE divides two numbers by zero (±inf, NaN) where Python would raise.\"\"\"", 1)
        emit("if _is_tensor(a) or _is_tensor(b) or b != 0:", 1)
        emit("return a / b", 2)
        emit("return math.copysign(math.inf, a) * math.copysign(1.0, b) if a == a and a != 0 else math.nan", 1)
        emit()
        emit("def _ieee(name, *args):")
        emit("\"\"\"A number outside math's domain (the root or logarithm of a negative number, an", 1)
        emit("overflow) as optlang computes it, NaN or ±inf, with the array library in double precision.\"\"\"", 1)
        if torch {
            emit("return getattr(torch, name)(*(torch.tensor(a, dtype=torch.float64) for a in args)).item()", 1)
        } else {
            emit("with np.errstate(all=\"ignore\"):", 1)
            emit("return float(getattr(np, \"power\" if name == \"pow\" else name)(*(np.float64(a) for a in args)))", 2)
        }
        emit()
        emit(torch ? "def _reduce(kind, x, sh=None):" : "def _reduce(kind, x):")
        if torch {
            emit(
                "\"\"\"A norm or reduction of one tensor, in double precision, as a 0-d tensor on its device.\"\"\"", 1)
            emit("d = x.double()", 1)
            emit("if sh is not None:", 1)
            emit("if kind in (\"spectral\", \"nuclear\"):", 2)
            emit("s = torch.linalg.svdvals(_gather(d, sh))", 3)
            emit("return s.max() if kind == \"spectral\" else s.sum()", 3)
            emit("if kind == \"linf\":", 2)
            emit("return _sum_across(torch.abs(d).amax() if d.numel() else d.new_zeros(()), sh, largest=True)", 3)
            emit(
                "r = _sum_across(torch.abs(d).sum() if kind == \"l1\" else (d * d).sum() if kind in (\"rms\", \"l2\") else d.sum(), sh)",
                2)
            emit("n = sh.rows * d.shape[1]", 2)
            emit(
                "return r / n if kind == \"mean\" else torch.sqrt(r / n) if kind == \"rms\" else torch.sqrt(r) if kind == \"l2\" else r",
                2)
            emit("if kind == \"sum\": return d.sum()", 1)
            emit("if kind == \"mean\": return d.mean()", 1)
            emit("if kind == \"rms\": return torch.sqrt((d * d).mean())", 1)
            emit("if kind == \"l2\": return torch.sqrt((d * d).sum())", 1)
            emit("if kind == \"l1\": return torch.abs(d).sum()", 1)
            emit("if kind == \"linf\": return torch.abs(d).max()", 1)
            emit("s = torch.linalg.svdvals(d)", 1)
            emit("return s.max() if kind == \"spectral\" else s.sum()", 1)
        } else {
            emit("\"\"\"A norm or reduction of one tensor, in double precision.\"\"\"", 1)
            emit("d = x.astype(np.float64)", 1)
            emit("if kind == \"sum\": return float(d.sum())", 1)
            emit("if kind == \"mean\": return float(d.mean())", 1)
            emit("if kind == \"rms\": return math.sqrt(float((d * d).mean()))", 1)
            emit("if kind == \"l2\": return math.sqrt(float((d * d).sum()))", 1)
            emit("if kind == \"l1\": return float(np.abs(d).sum())", 1)
            emit("if kind == \"linf\": return float(np.abs(d).max())", 1)
            emit("s = np.linalg.svd(d, compute_uv=False)", 1)
            emit("return float(s.max()) if kind == \"spectral\" else float(s.sum())", 1)
        }
        emit()
        emit(torch ? "def _reduce_along(kind, x, axis, sh=None):" : "def _reduce_along(kind, x, axis):")
        emit("\"\"\"Per row (axis 1: one value per row, shape (rows, 1)) or per column (axis 0: (1, cols)).\"\"\"", 1)
        emit(torch ? "d = x.double()" : "d = x.astype(np.float64)", 1)
        if torch {
            emit("if sh is not None and axis == 0:  # a column's rows lie on every process", 1)
            emit("if kind == \"linf\":", 2)
            emit("part = torch.abs(d).amax(dim=0, keepdim=True) if d.shape[0] else d.new_zeros((1, d.shape[1]))", 3)
            emit("return _sum_across(part, sh, largest=True).float()", 3)
            emit("square = kind in (\"rms\", \"l2\")", 2)
            emit(
                "r = _sum_across((torch.abs(d) if kind == \"l1\" else d * d if square else d).sum(dim=0, keepdim=True), sh)",
                2)
            emit("r = r / sh.rows if kind in (\"mean\", \"rms\") else r", 2)
            emit("return (torch.sqrt(r) if square else r).float()", 2)
        }
        let keep = torch ? "dim=axis, keepdim=True" : "axis=axis, keepdims=True"
        emit("if kind == \"sum\": r = d.sum(\(keep))", 1)
        emit("elif kind == \"mean\": r = d.mean(\(keep))", 1)
        emit("elif kind == \"rms\": r = \(t).sqrt((d * d).mean(\(keep)))", 1)
        emit("elif kind == \"l2\": r = \(t).sqrt((d * d).sum(\(keep)))", 1)
        emit("elif kind == \"l1\": r = \(t).abs(d).sum(\(keep))", 1)
        emit(
            torch
                ? "else: r = torch.abs(d).amax(dim=axis, keepdim=True)"
                : "else: r = np.abs(d).max(axis=axis, keepdims=True)", 1)
        emit(torch ? "return r.float()" : "return r.astype(np.float32)", 1)
        emit()
        if torch {
            orthogonalizeHelper()
        } else {
            emit("def _newton_schulz(g, steps):")
            emit("\"\"\"Muon's quintic Newton–Schulz iteration (KellerJordan/Muon), on the wide orientation.\"\"\"", 1)
            emit("a, b, c = 3.4445, -4.7750, 2.0315", 1)
            emit("x = g.T if g.shape[0] > g.shape[1] else g", 1)
            emit("x = (x / (np.linalg.norm(x.astype(np.float64)) + 1e-7)).astype(np.float32)", 1)
            emit("for _ in range(steps):", 1)
            emit("gram = x @ x.T", 2)
            emit("x = a * x + (b * gram + c * (gram @ gram)) @ x", 2)
            emit("return x.T if g.shape[0] > g.shape[1] else x", 1)
            emit()
        }
        emit("def _schedule(kind, t, total, first, second=0.0):")
        emit("if kind == \"linear_warmup\": return min(1.0, t / max(first, 1.0))", 1)
        emit(
            "if kind == \"cosine_decay\": return first + (1 - first) * 0.5 * (1 + math.cos(math.pi * min(t, total) / max(total, 1.0)))",
            1)
        emit("return max(0.0, min(t / max(first, 1.0), 1.0, (total - t) / max(second, 1.0)))", 1)
        emit()
    }

    /// The PyTorch export's Newton–Schulz: every member of a group at once, those of one
    /// shape batched.
    mutating func orthogonalizeHelper() {
        emit("def _orthogonalize(gs, steps, shards):")
        emit("\"\"\"Muon's quintic Newton–Schulz iteration (KellerJordan/Muon) of each matrix: the matrices of", 1)
        emit("one shape together, as one batched product chain. A sharded matrix is gathered whole, one", 1)
        emit("at a time (so that a process holds one gathered matrix at most), and this process's rows of", 1)
        emit("the result kept.\"\"\"", 1)
        emit("out = [None] * len(gs)", 1)
        emit("batches = {}", 1)
        emit("for k, (g, sh) in enumerate(zip(gs, shards)):", 1)
        emit("if sh is not None:", 2)
        emit("out[k] = _newton_schulz([_gather(g, sh)], steps)[0][sh.start : sh.stop]", 3)
        emit("else:", 2)
        emit("batches.setdefault((tuple(g.shape), g.dtype, g.device), []).append(k)", 3)
        emit("for ks in batches.values():", 1)
        emit("for k, y in zip(ks, _newton_schulz([gs[k] for k in ks], steps)):", 2)
        emit("out[k] = y", 3)
        emit("return out", 1)
        emit()
        emit("def _newton_schulz(gs, steps):")
        emit("\"\"\"The iteration for matrices of one shape, on their wide orientation, as one batch.\"\"\"", 1)
        emit("a, b, c = 3.4445, -4.7750, 2.0315", 1)
        emit("tall = gs[0].shape[0] > gs[0].shape[1]", 1)
        emit("x = torch.stack([g.mT if tall else g for g in gs])", 1)
        emit("x = x / (torch.linalg.vector_norm(x.double(), dim=(-2, -1), keepdim=True) + 1e-7).to(x.dtype)", 1)
        emit("for _ in range(steps):", 1)
        emit("gram = x @ x.mT", 2)
        emit("x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)", 2)
        emit("return list(x.mT if tall else x)", 1)
        emit()
    }

    /// The PyTorch export's helpers for FSDP2: a parameter sharded by rows (a DTensor with
    /// `Shard(0)` on a one-dimensional mesh) is stepped on this process's rows; element-wise
    /// work and per-row reductions need nothing more, per-column and whole-tensor reductions
    /// add their partial results across the processes, and the spectral and nuclear norms
    /// and Newton–Schulz gather the whole matrix, then keep this process's rows.
    mutating func shardingHelpers() {
        emit("class _Shard:")
        emit("\"\"\"Where this process's rows of a row-sharded parameter lie: rows start:stop of `rows`, in", 1)
        emit("chunks of `size` rows (torch.chunk's split, as FSDP2 shards), over `group`.\"\"\"", 1)
        emit("def __init__(self, group, rows):", 1)
        emit("self.group, self.rows = group, rows", 2)
        emit("self.world, rank = dist.get_world_size(group), dist.get_rank(group)", 2)
        emit("self.size = -(-rows // self.world)", 2)
        emit("self.start = min(rank * self.size, rows)", 2)
        emit("self.stop = min(self.start + self.size, rows)", 2)
        emit()
        emit("def _shard_of(p, rows, name=None):")
        emit("\"\"\"None for a whole tensor; a _Shard for a DTensor sharded by rows on a 1-d mesh (FSDP2).\"\"\"", 1)
        emit("if DTensor is None or not isinstance(p, DTensor):", 1)
        emit("return None", 2)
        emit(
            "if p.device_mesh.ndim != 1 or len(p.placements) != 1 or not (isinstance(p.placements[0], Shard) and p.placements[0].dim == 0):",
            1)
        emit(
            "raise ValueError(f\"parameter {name or ''!r}: placements {p.placements} on a {p.device_mesh.ndim}-d mesh; only Shard(0) on a 1-d mesh (FSDP2's fully_shard) is supported\")",
            2)
        emit("return _Shard(p.device_mesh.get_group(), rows)", 1)
        emit()
        emit("def _local(t):")
        emit("\"\"\"This process's part of `t`: a DTensor's local shard, else `t` itself.\"\"\"", 1)
        emit("return t.to_local() if DTensor is not None and isinstance(t, DTensor) else t", 1)
        emit()
        emit("def _matrix(t, cols):")
        emit("\"\"\"This process's rows of `t` as a (rows here) × cols matrix.\"\"\"", 1)
        emit("t = _local(t)", 1)
        emit("return t.reshape(t.shape[0] if t.dim() else 1, cols)", 1)
        emit()
        emit("def _write(p, value, like):")
        emit(
            "\"\"\"Writes `value`, broadcast to the shape of `like` (this process's rows), into the parameter.\"\"\"", 1
        )
        emit("local = _local(p.data)", 1)
        emit("if value is like and like.data_ptr() == local.data_ptr():", 1)
        emit("return  # `like` is a view of the parameter, already updated in place", 2)
        emit(
            "local.copy_(torch.broadcast_to(torch.as_tensor(value, device=like.device), like.shape).reshape(local.shape))",
            1)
        emit()
        emit("def _gather(x, sh):")
        emit(
            "\"\"\"The whole matrix from every process's rows `x` (padded to equal chunks for the collective).\"\"\"", 1
        )
        emit("padded = x.new_zeros((sh.size,) + tuple(x.shape[1:]))", 1)
        emit("padded[: x.shape[0]] = x", 1)
        emit("chunks = [torch.empty_like(padded) for _ in range(sh.world)]", 1)
        emit("dist.all_gather(chunks, padded, group=sh.group)", 1)
        emit("return torch.cat(chunks)[: sh.rows]", 1)
        emit()
        emit("def _sum_across(r, sh, largest=False):")
        emit("\"\"\"Adds (or takes the largest of) every process's partial result `r`.\"\"\"", 1)
        emit("dist.all_reduce(r, op=dist.ReduceOp.MAX if largest else dist.ReduceOp.SUM, group=sh.group)", 1)
        emit("return r", 1)
        emit()
    }

    /// The helpers of the Optax export: every value is a JAX array (0-d for per-layer
    /// values), traced under `jax.jit`, so nothing branches on a value in Python and nothing
    /// leaves the device. Per-layer values and reductions are in `_F`: float64 where the user
    /// enabled `jax_enable_x64`, float32 otherwise (JAX's default).
    mutating func jaxHelpers() {
        emit("# Per-layer values (norms, bias corrections, group reductions): double precision where")
        emit("# jax_enable_x64 is set, JAX's float32 otherwise. Tensors are float32 either way.")
        emit("_F = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32")
        emit()
        emit("def _bool(x):")
        emit("\"\"\"A comparison's value as 1.0 / 0.0, element-wise for tensors.\"\"\"", 1)
        emit("return jnp.where(x, jnp.float32(1.0), jnp.float32(0.0))", 1)
        emit()
        emit("def _select(c, a, b):")
        emit("return jnp.where(jnp.asarray(c) != 0, a, b)", 1)
        emit()
        emit("def _unary(name, x):")
        emit("if name == \"rsqrt\":", 1)
        emit("return 1.0 / jnp.sqrt(x)", 2)
        emit("return getattr(jnp, name)(x)", 1)
        emit()
        emit("def _minimum(a, b):")
        emit("return jnp.minimum(a, b)", 1)
        emit()
        emit("def _maximum(a, b):")
        emit("return jnp.maximum(a, b)", 1)
        emit()
        emit("def _power(a, b):")
        emit("return jnp.power(a, b)", 1)
        emit()
        emit("def _reduce(kind, x):")
        emit("\"\"\"A norm or reduction of one tensor, as a 0-d array of dtype _F.\"\"\"", 1)
        emit("d = x.astype(_F)", 1)
        emit("if kind == \"sum\": return d.sum()", 1)
        emit("if kind == \"mean\": return d.mean()", 1)
        emit("if kind == \"rms\": return jnp.sqrt((d * d).mean())", 1)
        emit("if kind == \"l2\": return jnp.sqrt((d * d).sum())", 1)
        emit("if kind == \"l1\": return jnp.abs(d).sum()", 1)
        emit("if kind == \"linf\": return jnp.abs(d).max()", 1)
        emit("s = jnp.linalg.svd(d, compute_uv=False)", 1)
        emit("return s.max() if kind == \"spectral\" else s.sum()", 1)
        emit()
        emit("def _reduce_along(kind, x, axis):")
        emit("\"\"\"Per row (axis 1: one value per row, shape (rows, 1)) or per column (axis 0: (1, cols)).\"\"\"", 1)
        emit("d = x.astype(_F)", 1)
        emit("if kind == \"sum\": r = d.sum(axis=axis, keepdims=True)", 1)
        emit("elif kind == \"mean\": r = d.mean(axis=axis, keepdims=True)", 1)
        emit("elif kind == \"rms\": r = jnp.sqrt((d * d).mean(axis=axis, keepdims=True))", 1)
        emit("elif kind == \"l2\": r = jnp.sqrt((d * d).sum(axis=axis, keepdims=True))", 1)
        emit("elif kind == \"l1\": r = jnp.abs(d).sum(axis=axis, keepdims=True)", 1)
        emit("else: r = jnp.abs(d).max(axis=axis, keepdims=True)", 1)
        emit("return r.astype(jnp.float32)", 1)
        emit()
        emit("def _newton_schulz(g, steps):")
        emit("\"\"\"Muon's quintic Newton–Schulz iteration (KellerJordan/Muon), on the wide orientation.\"\"\"", 1)
        emit("a, b, c = 3.4445, -4.7750, 2.0315", 1)
        emit("x = g.T if g.shape[0] > g.shape[1] else g", 1)
        emit("x = (x / (jnp.linalg.norm(x.astype(_F)) + 1e-7)).astype(jnp.float32)", 1)
        emit("for _ in range(steps):", 1)
        emit("gram = x @ x.T", 2)
        emit("x = a * x + (b * gram + c * (gram @ gram)) @ x", 2)
        emit("return x.T if g.shape[0] > g.shape[1] else x", 1)
        emit()
        emit("def _schedule(kind, t, total, first, second=0.0):")
        emit("if kind == \"linear_warmup\": return jnp.minimum(1.0, t / jnp.maximum(first, 1.0))", 1)
        emit(
            "if kind == \"cosine_decay\": return first + (1 - first) * 0.5 * (1 + jnp.cos(math.pi * jnp.minimum(t, total) / max(total, 1.0)))",
            1)
        emit(
            "return jnp.maximum(0.0, jnp.minimum(jnp.minimum(t / jnp.maximum(first, 1.0), 1.0), (total - t) / jnp.maximum(second, 1.0)))",
            1)
        emit()
        emit("def _group_reduce(kind, values):")
        emit("\"\"\"max, sum or mean over a group's per-layer values.\"\"\"", 1)
        emit("v = jnp.stack([jnp.asarray(x, _F) for x in values])", 1)
        emit("return v.max() if kind == \"max\" else v.sum() if kind == \"sum\" else v.mean()", 1)
        emit()
    }

    // MARK: Selectors

    func condition(_ s: Selector) -> String {
        switch s {
        case .all: return "True"
        case .matrix: return "len(shape) >= 2"
        case .vector: return "len(shape) < 2"
        case .role(let roles, _): return "role in (" + roles.map { Self.string($0.name) }.joined(separator: ", ") + ",)"
        case .name(let globs, _):
            return "(" + globs.map { "_glob(\(Self.string($0)), name)" }.joined(separator: " or ") + ")"
        case .layer(let lo, let hi, _): return "(layer is not None and \(lo) <= layer <= \(hi))"
        case .dims(let lo, let hi, _): return "\(lo) <= len(shape) <= \(hi)"
        case .and(let a, let b): return "(\(condition(a)) and \(condition(b)))"
        case .or(let a, let b): return "(\(condition(a)) or \(condition(b)))"
        case .not(let a, _): return "(not \(condition(a)))"
        case .parenthesized(let a, _): return condition(a)
        }
    }

    mutating func selectors() {
        emit("# Groups in the recipe's order: a parameter belongs to the first whose selector accepts it.")
        emit("GROUPS = (")
        for group in graph.groups {
            emit(
                "(\(Self.string(group.name)), lambda name, role, layer, shape: \(condition(group.checked.selector))),",
                1)
        }
        emit(")")
        emit()
        emit("def _assign(named_shapes, role_of, layer_of):")
        emit("\"\"\"Group of each parameter; raises when some land in no group (the rule optlang applies).\"\"\"", 1)
        emit("assignment, leftover = {}, []", 1)
        emit("for name, shape in named_shapes:", 1)
        emit("role, layer = role_of(name, shape), layer_of(name)", 2)
        emit("if role not in ROLES:", 2)
        emit("raise ValueError(f\"parameter {name!r}: role {role!r} is not one of {ROLES}\")", 3)
        emit("group = next((g for g, accepts in GROUPS if accepts(name, role, layer, tuple(shape))), None)", 2)
        emit("if group is None:", 2)
        emit("leftover.append(f\"{name} (role {role}, shape {list(shape)})\")", 3)
        emit("assignment[name] = group", 2)
        emit("if leftover:", 1)
        emit(
            "raise ValueError(f\"recipe '\(recipe.name)' leaves {len(leftover)} parameter(s) without a group: \" + \", \".join(leftover))",
            2)
        emit("return assignment", 1)
        emit()
        emit("def _initial_state(group, value):")
        emit("\"\"\"Fresh state slots of the parameter `value`, as a dict slot → value.\"\"\"", 1)
        emit("shape = tuple(value.shape)", 1)
        emit("rows = shape[0] if len(shape) else 1", 1)
        emit("cols = (math.prod(shape) // rows) if rows else 0", 1)
        // A sharded parameter's state holds its local rows only.
        if torch { emit("x = _matrix(value.detach(), cols)  # this process's rows", 1) }
        for (g, group) in graph.groups.enumerated() {
            emit("\(g == 0 ? "if" : "elif") group == \(Self.string(group.name)):", 1)
            if group.states.isEmpty { emit("return {}", 2) }
            var parts: [String] = []
            for slot in group.states {
                let v = initialValue(slot)
                let zeros = "\(lib).full"
                let dtype = torch ? "dtype=torch.float32, device=value.device" : "dtype=\(lib).float32"
                let copy: String
                switch target {
                case .pytorch: copy = "x.to(torch.float32).clone()"
                case .numpy: copy = "np.array(value, dtype=np.float32).reshape(rows, cols)"
                case .optax: copy = "jnp.asarray(value, dtype=jnp.float32).reshape(rows, cols)"
                }
                switch (slot.type.level, slot.type.extent) {
                case (.tensor, .full) where slot.initial.isParameter:
                    parts.append("\(Self.string(slot.name)): \(copy)")
                case (.tensor, .full):
                    parts.append("\(Self.string(slot.name)): \(zeros)((\(localRows), cols), \(v), \(dtype))")
                case (.tensor, .row):
                    parts.append("\(Self.string(slot.name)): \(zeros)((\(localRows), 1), \(v), \(dtype))")
                case (.tensor, .column): parts.append("\(Self.string(slot.name)): \(zeros)((1, cols), \(v), \(dtype))")
                default:
                    switch target {
                    case .pytorch: parts.append("\(Self.string(slot.name)): _per_layer(\(v), value.device)")
                    case .numpy: parts.append("\(Self.string(slot.name)): \(v)")
                    case .optax: parts.append("\(Self.string(slot.name)): jnp.asarray(\(v), jnp.float32)")
                    }
                }
            }
            if !group.states.isEmpty { emit("return {" + parts.joined(separator: ", ") + "}", 2) }
        }
        emit("raise KeyError(group)", 1)
        emit()
    }

    func initialValue(_ slot: StateSlot) -> String {
        if case .fill(let e) = slot.initial {
            return Self.literal(ConstantEvaluator(hypers: graph.hyperparameters.map(\.value)).evaluate(e) ?? 0)
        }
        return "0.0"
    }

    // MARK: Groups

    /// The Python expression computing node `i` of `group` from its operands' spellings
    /// (``GroupSpelling``).
    func expression(_ i: Int, _ group: GroupGraph, operands a: [String]) -> String {
        let node = group.nodes[i]
        switch node.op {
        case .constant(let v): return Self.literal(v)
        case .hyper(let k): return "hp[\(Self.string(graph.hyperparameters[k].name))]"
        case .step: return "t"
        case .totalSteps: return "total"
        case .parameter: return "x"
        case .gradient: return "g"
        case .shape(.rows): return "float(rows)"
        case .shape(.cols): return "float(cols)"
        case .shape(.numel): return "float(rows * cols)"
        case .fill(let v, let extent):
            let shape = extent == .full ? "(\(localRows), cols)" : extent == .row ? "(\(localRows), 1)" : "(1, cols)"
            return torch
                ? "torch.full(\(shape), \(Self.literal(v)), dtype=torch.float32, device=x.device)"
                : "\(lib).full(\(shape), \(Self.literal(v)), dtype=\(lib).float32)"
        case .stateRead(let slot): return "st[\(Self.string(group.states[slot].name))]"
        case .unary(.negate): return "-\(a[0])"
        case .unary(.not): return "_bool(\(a[0]) == 0)"
        case .unary(.square): return "\(a[0]) * \(a[0])"
        case .unary(let f): return "_unary(\(Self.string(f.rawValue)), \(a[0]))"
        case .binary(let f):
            switch f {
            case .op(.add): return "\(a[0]) + \(a[1])"
            case .op(.subtract): return "\(a[0]) - \(a[1])"
            case .op(.multiply): return "\(a[0]) * \(a[1])"
            case .op(.divide):
                // Two Python numbers (per-layer values in the numpy export; numbers of t, T,
                // hyperparameters and shapes in the PyTorch one) may divide by zero, which
                // Python raises on; `_div` gives optlang's ±inf or NaN.
                return !jax && node.type.level != .tensor ? "_div(\(a[0]), \(a[1]))" : "\(a[0]) / \(a[1])"
            case .op(.power): return "_power(\(a[0]), \(a[1]))"
            case .min: return "_minimum(\(a[0]), \(a[1]))"
            case .max: return "_maximum(\(a[0]), \(a[1]))"
            case .op(.equal): return "_bool(\(a[0]) == \(a[1]))"
            case .op(.notEqual): return "_bool(\(a[0]) != \(a[1]))"
            case .op(.less): return "_bool(\(a[0]) < \(a[1]))"
            case .op(.lessEqual): return "_bool(\(a[0]) <= \(a[1]))"
            case .op(.greater): return "_bool(\(a[0]) > \(a[1]))"
            case .op(.greaterEqual): return "_bool(\(a[0]) >= \(a[1]))"
            case .op(.and): return "_bool((\(a[0]) != 0) & (\(a[1]) != 0))"
            case .op(.or): return "_bool((\(a[0]) != 0) | (\(a[1]) != 0))"
            }
        case .select: return "_select(\(a[0]), \(a[1]), \(a[2]))"
        // PyTorch: `sh` says where a sharded parameter's rows lie (None for a whole one); its
        // group functions orthogonalise a whole list at once (`_orthogonalize`).
        case .orthogonalize(let steps): return "_newton_schulz(\(a[0]), \(steps))"
        case .reduce(let r, .all): return "_reduce(\(Self.string(r.rawValue)), \(a[0])\(torch ? ", sh" : ""))"
        case .reduce(let r, .row): return "_reduce_along(\(Self.string(r.rawValue)), \(a[0]), 1)"
        case .reduce(let r, .column):
            return "_reduce_along(\(Self.string(r.rawValue)), \(a[0]), 0\(torch ? ", sh" : ""))"
        case .schedule(let b): return "_schedule(\(Self.string(b.rawValue)), t, total, \(a.joined(separator: ", ")))"
        case .groupReduce, .stateWrite, .parameterWrite, .log: return "None"
        }
    }

    /// A group function's `def` line and docstring (`what` it does), and the recipe's lines
    /// of the group quoted.
    mutating func groupFunctionHeader(_ group: GroupGraph, _ what: String) {
        emit("def _group_\(Self.identifier(group.name))(members, params, grads, state, t, total, hp):")
        emit("\"\"\"Group '\(group.name)' (\(group.selectorText)): \(what).\"\"\"", 1)
        if let source, group.checked.range.end <= source.bytes.count, group.checked.range.end > 0 {
            let first = source.position(of: group.checked.range.start).line
            let last = source.position(of: group.checked.range.end - 1).line
            emit("# \((recipe.path as NSString).lastPathComponent), lines \(first)–\(last):", 1)
            for line in first...last { emit("#   " + source.lineText(line), 1) }
        }
    }

    mutating func groupFunction(_ g: Int, _ group: GroupGraph) {
        if torch { return multiTensorGroupFunction(group) }
        let plan = group.plan
        groupFunctionHeader(group, "one step for its members")
        emit("values = {name: {} for name in members}", 1)
        let spell = GroupSpelling(group: group)
        for (s, _) in plan.stages.enumerated() {
            for n in plan.boundaries[s] {
                guard case .groupReduce(let kind) = group.nodes[n].op else { continue }
                let input = group.nodes[n].inputs[0]
                let over = "[values[name][\(input)] for name in members]"
                let reduce: String
                if torch {
                    reduce =
                        "_group_reduce(\(Self.string(kind.rawValue)), \(over), params[members[0]].device) if members else 0.0"
                } else if jax {
                    reduce = "_group_reduce(\(Self.string(kind.rawValue)), \(over)) if members else 0.0"
                } else {
                    switch kind {
                    case .max: reduce = "max(\(over)) if members else 0.0"
                    case .sum: reduce = "sum(\(over)) if members else 0.0"
                    case .mean: reduce = "sum(\(over)) / len(members) if members else 0.0"
                    }
                }
                emit("# %\(n): group_\(kind.rawValue) over the group's layers", 1)
                emit("reduced = \(reduce)", 1)
                emit("for name in members:", 1)
                emit("values[name][\(n)] = reduced", 2)
            }
            emit("for name in members:  # stage \(s)", 1)
            emit("e, st = values[name], state[name]", 2)
            emit("shape = tuple(params[name].shape)", 2)
            emit("rows = shape[0] if len(shape) else 1", 2)
            emit("cols = (math.prod(shape) // rows) if rows else 0", 2)
            switch target {
            case .pytorch:
                emit("sh = _shard_of(params[name], rows)", 2)
                emit("x = _matrix(params[name].data, cols)", 2)
                emit("g = _matrix(grads[name], cols).float()", 2)
            case .numpy:
                emit("x = params[name].reshape(rows, cols)", 2)
                emit("g = grads[name].reshape(rows, cols).astype(np.float32)", 2)
            case .optax:
                emit("x = params[name].reshape(rows, cols).astype(jnp.float32)", 2)
                emit("g = grads[name].reshape(rows, cols).astype(jnp.float32)", 2)
            }
            let operand = { (j: Int) in spell.operand(j, stage: s, writer: self) }
            for j in spell.carried(into: s) { emit("\(spell.variable[j]!) = e[\(j)]", 2) }
            var sinks: [String] = []
            for (i, node) in group.nodes.enumerated() where plan.stageOf[i] == s {
                let a = node.inputs.map(operand)
                switch node.op {
                case .groupReduce: continue
                case .stateWrite(let slot):
                    let slotName = group.states[slot].name
                    if slot < group.states.count, group.states[slot].type.level == .tensor {
                        let fresh = GroupSpelling.storedAsIs(group.nodes[node.inputs[0]], in: group.states[slot])
                        let keep: String
                        switch target {
                        case .pytorch:
                            keep =
                                fresh ? a[0] : "torch.broadcast_to(\(a[0]), st[\(Self.string(slotName))].shape).clone()"
                        case .numpy:
                            keep = "np.broadcast_to(\(a[0]), st[\(Self.string(slotName))].shape).astype(np.float32)"
                        case .optax:
                            // Arrays are immutable: nothing needs a copy.
                            keep =
                                fresh
                                ? a[0]
                                : "jnp.broadcast_to(\(a[0]), st[\(Self.string(slotName))].shape).astype(jnp.float32)"
                        }
                        sinks.append("st[\(Self.string(slotName))] = \(keep)  # %\(i) state \(slotName)")
                    } else {
                        let rounded: String
                        switch target {
                        case .pytorch: rounded = "_scalar32(\(a[0]), x.device)"
                        case .numpy: rounded = "float(np.float32(\(a[0])))"
                        case .optax: rounded = "jnp.asarray(\(a[0]), jnp.float32)"
                        }
                        sinks.append(
                            "st[\(Self.string(slotName))] = \(rounded)  # %\(i) state \(slotName) (rounded to float32)")
                    }
                case .parameterWrite:
                    switch target {
                    case .pytorch:
                        sinks.append("_write(params[name], \(a[0]), x)  # %\(i) X")
                    case .numpy:
                        sinks.append(
                            "params[name][...] = np.broadcast_to(\(a[0]), (rows, cols)).reshape(shape)  # %\(i) X")
                    case .optax:
                        sinks.append(
                            "params[name] = jnp.broadcast_to(\(a[0]), (rows, cols)).reshape(shape).astype(params[name].dtype)  # %\(i) X"
                        )
                    }
                case .log(let logName):
                    let value: String
                    switch target {
                    case .pytorch: value = "\(a[0]).detach() if _is_tensor(\(a[0])) else \(a[0])"
                    case .numpy: value = "float(\(a[0]))"
                    case .optax: value = "jnp.asarray(\(a[0]), _F)"
                    }
                    sinks.append("state[\"_log\"].setdefault(\(Self.string(logName)), {})[name] = \(value)  # %\(i)")
                default:
                    guard let variable = spell.variable[i] else { continue }
                    emit("\(variable) = \(expression(i, group, operands: a))", 2)
                    if spell.stored.contains(i) { emit("e[\(i)] = \(variable)  # for a later stage", 2) }
                }
            }
            // Writes last, so that every read of a state or of X above sees the old value.
            for line in sinks { emit(line, 2) }
        }
        emit()
    }

    // MARK: APIs

    mutating func numpyAPI() {
        emit("def init_state(params, roles=None, layers=None):")
        emit("\"\"\"The optimizer state for `params` (a dict name → float32 array).", 1)
        emit()
        emit("`roles` and `layers` (dicts name → role / block index) default to `default_role` and", 1)
        emit("`default_layer`. Raises ValueError when a parameter lands in no group.", 1)
        emit("\"\"\"", 1)
        emit("role_of = (lambda n, s: roles[n]) if roles is not None else default_role", 1)
        emit("layer_of = (lambda n: layers.get(n)) if layers is not None else default_layer", 1)
        emit("groups = _assign([(n, tuple(a.shape)) for n, a in params.items()], role_of, layer_of)", 1)
        emit("state = {name: _initial_state(groups[name], a) for name, a in params.items()}", 1)
        emit("state[\"_groups\"] = groups", 1)
        emit("state[\"_log\"] = {}", 1)
        emit("return state", 1)
        emit()
        emit("def step(params, grads, state, t, total_steps, hp=None):")
        emit("\"\"\"One optimizer step (t counts from 1): updates `params` and `state` in place.\"\"\"", 1)
        emit("hp = dict(HYPERPARAMETERS, **(hp or {}))", 1)
        emit("names = list(params)", 1)
        callGroups(
            names: "names", groupOf: "state[\"_groups\"]",
            arguments: "params, grads, state, float(t), float(total_steps), hp", indent: 1)
        emit()
    }

    /// Raises TypeError, listing the real ones, when `**hyperparameters` names one the recipe
    /// does not have.
    mutating func refuseUnknownHyperparameters(indent: Int) {
        emit("unknown = set(hyperparameters) - set(HYPERPARAMETERS)", indent)
        emit("if unknown:", indent)
        emit(
            "raise TypeError(f\"unknown hyperparameters {sorted(unknown)}; this optimizer has {list(HYPERPARAMETERS)}\")",
            indent + 1)
    }

    /// One call of each group's function, in the recipe's order, with the members `names`
    /// whose group `groupOf[n]` is that group, followed by `arguments`.
    mutating func callGroups(names: String, groupOf: String, arguments: String, indent: Int) {
        for group in graph.groups {
            emit(
                "_group_\(Self.identifier(group.name))([n for n in \(names) if \(groupOf)[n] == \(Self.string(group.name))], \(arguments))",
                indent)
        }
    }

    mutating func optaxAPI() {
        emit("class State(NamedTuple):")
        emit("\"\"\"The optimizer state, a pytree: the number of steps taken, each parameter's state slots", 1)
        emit("(`slots[name][slot]`, name = the parameter's key path joined by \".\"), and the values of the", 1)
        emit("recipe's `log` statements at the last step (`logs[log][name]`).\"\"\"", 1)
        emit("count: jax.Array", 1)
        emit("slots: dict", 1)
        emit("logs: dict", 1)
        emit()
        emit("def _key_name(key):")
        emit("for attribute in (\"key\", \"name\", \"idx\"):", 1)
        emit("if hasattr(key, attribute):", 2)
        emit("return str(getattr(key, attribute))", 3)
        emit("return str(key)", 1)
        emit()
        emit("def _named_leaves(tree):")
        emit("\"\"\"The leaves of a pytree by name (key path joined by \".\"), and its structure.\"\"\"", 1)
        emit("leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)", 1)
        emit("names = [\".\".join(_key_name(k) for k in path) for path, _ in leaves]", 1)
        emit("if len(set(names)) != len(names):", 1)
        emit(
            "raise ValueError(\"two parameters have the same dotted name; use keys without dots or another layout\")", 2
        )
        emit("return dict(zip(names, (leaf for _, leaf in leaves))), treedef", 1)
        emit()
        // Hyperparameters as keyword-only parameters, so that `optax.inject_hyperparams` (which
        // reads the factory's signature) sees each one; `**hyperparameters` where a name cannot
        // be a Python parameter.
        let names = graph.hyperparameters.map(\.name)
        let spelled = names.allSatisfy {
            PythonWriter.identifier($0) == $0
                && !GroupSpelling.reserved.union(["total_steps", "role", "layer", "jax", "jnp", "optax"]).contains($0)
        }
        let keywords = names.map { "\($0)=HYPERPARAMETERS[\(Self.string($0))]" }.joined(separator: ", ")
        emit(
            "def optimizer(total_steps, role=None, layer=None, "
                + (spelled ? (names.isEmpty ? "" : "*, " + keywords) : "**hyperparameters") + "):")
        emit("\"\"\"\(recipe.name) as an optax.GradientTransformation.", 1)
        emit()
        emit("`total_steps` is the `T` of the recipe's schedules (`t` counts updates from 1). Parameters", 1)
        emit("are any pytree; a parameter's name is its key path joined by \".\" (a flat dict keyed by", 1)
        emit("dotted names works). `role` maps (name, array) to one of ROLES and `layer` maps a name to", 1)
        emit("its block index; each may also be a dict by name (defaults: `default_role`,", 1)
        emit("`default_layer`). Hyperparameters are keyword arguments (defaults are the recipe's); they", 1)
        emit("may be arrays, as `optax.inject_hyperparams` passes them. `update(grads, state, params)`", 1)
        emit("needs `params` and returns the new parameters minus the old (`optax.apply_updates`).", 1)
        emit("\"\"\"", 1)
        if spelled {
            emit("hp = {" + names.map { "\(Self.string($0)): \($0)" }.joined(separator: ", ") + "}", 1)
        } else {
            refuseUnknownHyperparameters(indent: 1)
            emit("hp = dict(HYPERPARAMETERS, **hyperparameters)", 1)
        }
        emit("layer_of = default_layer if layer is None else layer if callable(layer) else (lambda n: layer.get(n))", 1)
        emit()
        emit("def groups_of(params):", 1)
        emit("if role is None:", 2)
        emit("role_of = default_role", 3)
        emit("elif callable(role):", 2)
        emit("role_of = lambda n, s: role(n, params[n])", 3)
        emit("else:", 2)
        emit("role_of = lambda n, s: role[n]", 3)
        emit("return _assign([(n, tuple(a.shape)) for n, a in params.items()], role_of, layer_of)", 2)
        emit()
        emit("def step(grads, count, slots, params):", 1)
        emit("\"\"\"The new parameters, slots and logs: pure; the inputs are not changed.\"\"\"", 2)
        emit("groups = groups_of(params)", 2)
        emit("new = dict(params)", 2)
        emit("state = {n: dict(s) for n, s in slots.items()}", 2)
        emit("state[\"_log\"] = {}", 2)
        emit("t = (count + 1).astype(_F)", 2)
        emit("names = list(params)", 2)
        callGroups(
            names: "names", groupOf: "groups", arguments: "new, grads, state, t, float(total_steps), hp", indent: 2)
        emit("logs = state.pop(\"_log\")", 2)
        emit("return new, state, logs", 2)
        emit()
        emit("def init(params):", 1)
        emit("params, _ = _named_leaves(params)", 2)
        emit("groups = groups_of(params)", 2)
        emit("slots = {n: _initial_state(groups[n], a) for n, a in params.items()}", 2)
        emit("count = jnp.zeros([], jnp.int32)", 2)
        emit("# The logs' structure, from a step traced without running it; zeros until the first update.", 2)
        emit("shapes = jax.eval_shape(lambda: step(params, count, slots, params)[2])", 2)
        emit("logs = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)", 2)
        emit("return State(count=count, slots=slots, logs=logs)", 2)
        emit()
        emit("def update(updates, state, params=None):", 1)
        emit("if params is None:", 2)
        emit(
            "raise ValueError(\"\(recipe.name) needs the parameters: update(grads, state, params)\")",
            3)
        emit("grads, treedef = _named_leaves(updates)", 2)
        emit("params, _ = _named_leaves(params)", 2)
        emit("if set(grads) != set(params):", 2)
        emit("raise ValueError(\"the gradients and the parameters name different leaves\")", 3)
        emit("new, slots, logs = step(grads, state.count, state.slots, params)", 2)
        emit("deltas = [(new[n] - params[n]).astype(params[n].dtype) for n in grads]", 2)
        emit("return jax.tree_util.tree_unflatten(treedef, deltas), State(state.count + 1, slots, logs)", 2)
        emit()
        emit("return optax.GradientTransformation(init, update)", 1)
        emit()
    }

    mutating func optimizerClass() {
        emit("class \(className)(torch.optim.Optimizer):")
        emit("\"\"\"\(recipe.name) as a torch.optim.Optimizer.", 1)
        emit()
        emit("Pass `model.named_parameters()`; hyperparameters as keyword arguments (defaults are the", 1)
        emit("recipe's); `role` maps (name, parameter) to one of ROLES (default: `default_role`), `layer`", 1)
        emit("maps a name to its block index. Works under DistributedDataParallel unchanged, and under", 1)
        emit("FSDP2 (`fully_shard`): element-wise work runs on each process's rows, whole-matrix", 1)
        emit("operations gather the matrix or reduce across processes (docs/export.md).", 1)
        emit("\"\"\"", 1)
        emit()
        emit("def __init__(self, named_parameters, total_steps, role=None, layer=None, **hyperparameters):", 1)
        refuseUnknownHyperparameters(indent: 2)
        emit("named = [(n, p) for n, p in named_parameters if p.requires_grad]", 2)
        emit("for n, p in named:", 2)
        emit("if type(p).__name__ == \"ShardedTensor\":", 3)
        emit(
            "raise ValueError(f\"parameter {n!r} is a ShardedTensor; \(recipe.name) supports FSDP2's DTensor parameters (see docs/export.md)\")",
            4)
        emit("_shard_of(p, p.shape[0] if p.dim() else 1, name=n)  # refuses layouts other than FSDP2's", 3)
        emit("self.names = [n for n, _ in named]", 2)
        emit("role_of = (lambda n, s: role(n, dict(named)[n])) if role is not None else default_role", 2)
        emit("layer_of = layer if layer is not None else default_layer", 2)
        emit("self.groups_of = _assign([(n, tuple(p.shape)) for n, p in named], role_of, layer_of)", 2)
        emit("self.total_steps = total_steps", 2)
        emit("self.t = 0", 2)
        emit("self.logged = {}", 2)
        emit("super().__init__([p for _, p in named], dict(HYPERPARAMETERS, **hyperparameters))", 2)
        emit("self.by_name = dict(named)", 2)
        emit("self.slots = {n: _initial_state(self.groups_of[n], p) for n, p in named}", 2)
        emit()
        emit("@torch.no_grad()", 1)
        emit("def step(self, closure=None):", 1)
        emit("loss = None", 2)
        emit("if closure is not None:", 2)
        emit("with torch.enable_grad():", 3)
        emit("loss = closure()", 4)
        emit("self.t += 1", 2)
        emit("hp = self.param_groups[0]", 2)
        emit("params = self.by_name", 2)
        emit("grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in params.items()}", 2)
        emit("state = dict(self.slots, _log={})", 2)
        callGroups(
            names: "self.names", groupOf: "self.groups_of",
            arguments: "params, grads, state, float(self.t), float(self.total_steps), hp", indent: 2)
        emit("self.logged = state[\"_log\"]", 2)
        emit("return loss", 2)
        emit()
        emit("def state_dict(self):", 1)
        emit("\"\"\"State keyed by parameter name and slot name, so reordering parameters never swaps it.\"\"\"", 2)
        emit(
            "return {\"t\": self.t, \"slots\": {n: {k: (v.clone() if torch.is_tensor(v) else v) for k, v in s.items()} for n, s in self.slots.items()}, \"hyperparameters\": {k: self.param_groups[0][k] for k in HYPERPARAMETERS}}",
            2)
        emit()
        emit("def load_state_dict(self, state_dict):", 1)
        emit("missing = set(self.slots) - set(state_dict[\"slots\"])", 2)
        emit("if missing:", 2)
        emit("raise KeyError(f\"state for {sorted(missing)} is missing\")", 3)
        emit("self.t = state_dict[\"t\"]", 2)
        emit("for n in self.slots:", 2)
        emit(
            "self.slots[n] = {k: (v.to(self.by_name[n].device, copy=True) if torch.is_tensor(v) else _per_layer(v, self.by_name[n].device) if isinstance(v, float) else v) for k, v in state_dict[\"slots\"][n].items()}",
            3)
        emit("self.param_groups[0].update(state_dict.get(\"hyperparameters\", {}))", 2)
        emit()
    }
}

/// How a group's nodes are spelled in the generated code, so that it reads like the recipe:
/// the recipe's bindings are locals named after them (`m_hat`, `eta`); a value used once is
/// written inline where it is used; leaves (`x`, `g`, `t`, `hp["lr"]`, `st["m"]`) are
/// spelled where they are used; other shared values are `_t` and their node number. A value
/// that a later stage or a group reduction reads is also kept in the member's `e` dict under
/// its node number (`e[12]`), since each stage is its own loop over the members.
struct GroupSpelling {
    let group: GroupGraph
    /// Nodes computed into a local, by name.
    private(set) var variable: [Int: String] = [:]
    /// Nodes also stored in `e` for a later stage or a group reduction.
    private(set) var stored: Set<Int> = []

    /// Python's keywords: a binding so named gets a trailing `_`.
    static let keywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
        "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
        "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ]

    /// Names no local may take: the keywords, the built-ins and the names the group function
    /// itself uses.
    static let reserved: Set<String> = keywords.union([
        "zip", "len", "float", "int", "min", "max", "sum", "abs", "list", "range", "enumerate", "tuple", "dict",
        "next", "any", "all", "isinstance", "getattr",
    ]).union([
        "members", "params", "grads", "state", "t", "total", "hp", "values", "name", "e", "st", "shape", "rows",
        "cols", "x", "g", "reduced", "math", "re", "np", "torch",
    ])

    /// Reads of each node, a square counting twice (spelled `a * a`).
    let uses: [Int]

    /// The names the multi-tensor group functions give their lists and comprehensions' elements.
    static let multiTensorReserved: Set<String> = [
        "ps", "rows_of", "cols_of", "shards", "states", "X", "G", "sh", "_p", "_v", "_a", "_b", "_c",
    ]

    /// Whether a new value of a tensor state slot may be stored as it is: a new tensor of the
    /// slot's shape (a lower-level value is broadcast, and a leaf or a choice, which may
    /// return its operand — `g`, another state — copied).
    static func storedAsIs(_ value: Node, in slot: StateSlot) -> Bool {
        value.type.level == .tensor && value.type.extent == slot.type.extent && !value.op.isLeaf
            && value.op != .select
    }

    /// `multiTensor`: the names of the PyTorch export's group functions, where each value is a
    /// list over the group's members (``PythonWriter/multiTensorGroupFunction(_:)``): there
    /// nothing is carried between stages, and every state read used is named `<slot>_old`.
    init(group: GroupGraph, multiTensor: Bool = false) {
        self.group = group
        let nodes = group.nodes
        let stageOf = group.plan.stageOf
        var uses = [Int](repeating: 0, count: nodes.count)
        for node in nodes {
            for j in node.inputs { uses[j] += 1 }
            if case .unary(.square) = node.op { uses[node.inputs[0]] += 1 }  // spelled `a * a`
        }
        self.uses = uses
        // What a group reduction reduces (it reads `values[name][j]`), and what a later
        // stage reads that cannot be spelled again there (a leaf other than an old state
        // value can). A reduction's own value is put in `e` by the reduction itself.
        for (i, node) in nodes.enumerated() where !multiTensor {
            for j in node.inputs where !nodes[j].op.isGroupReduce {
                if node.op.isGroupReduce { stored.insert(j) }
                if stageOf[j] != stageOf[i], !nodes[j].op.isLeaf || nodes[j].op.isStateRead { stored.insert(j) }
            }
        }
        // A written value without a binding is named after what it becomes.
        var written: [Int: String] = [:]
        for node in nodes {
            switch node.op {
            case .stateWrite(let slot): written[node.inputs[0]] = group.states[slot].name + "_new"
            case .parameterWrite: written[node.inputs[0]] = "x_new"
            default: continue
            }
        }
        var taken = multiTensor ? Self.reserved.union(Self.multiTensorReserved) : Self.reserved
        for (i, node) in nodes.enumerated() {
            if node.op.isSink { continue }
            let base: String
            if case .stateRead(let slot) = node.op, stored.contains(i) || (multiTensor && uses[i] > 0) {
                base = PythonWriter.identifier(group.states[slot].name + "_old")
            } else if node.op.isLeaf {
                guard stored.contains(i) else { continue }
                base = "_t\(i)"
            } else if let binding = node.binding {
                // A name the module reserves (`_div`, `_t4`) gets an `r` before its `_`.
                let name = PythonWriter.identifier(binding)
                base = Self.keywords.contains(name) ? name + "_" : name.hasPrefix("_") ? "r" + name : name
            } else if let name = written[i] {
                base = PythonWriter.identifier(name)
            } else if uses[i] != 1 || stored.contains(i) || node.op.isGroupReduce {
                base = "_t\(i)"
            } else {
                continue  // inline
            }
            var candidate = base
            var k = 2
            while taken.contains(candidate) {
                candidate = "\(base)_\(k)"
                k += 1
            }
            taken.insert(candidate)
            variable[i] = candidate
        }
    }

    /// The values computed before `stage` (in an earlier stage, or by a group reduction)
    /// that its nodes read: each stage's loop starts by taking them from `e` into their locals.
    func carried(into stage: Int) -> [Int] {
        var seen = Set<Int>()
        var result: [Int] = []
        for (i, node) in group.nodes.enumerated() where group.plan.stageOf[i] == stage && !node.op.isGroupReduce {
            for j in node.inputs where variable[j] != nil && !seen.contains(j) {
                if group.plan.stageOf[j] != stage || group.nodes[j].op.isGroupReduce {
                    seen.insert(j)
                    result.append(j)
                }
            }
        }
        return result.sorted()
    }

    /// Node `j` as an operand of a node in stage `stage`.
    func operand(_ j: Int, stage: Int, writer: PythonWriter) -> String {
        let node = group.nodes[j]
        if let v = variable[j] { return v }
        let text = writer.expression(j, group, operands: node.inputs.map { operand($0, stage: stage, writer: writer) })
        return Self.isAtom(text) ? text : "(\(text))"
    }

    /// True for text that needs no parentheses as an operand: a name or number, or a name
    /// followed by one bracketed call or subscript (`hp["lr"]`, `_unary("sqrt", v)`).
    static func isAtom(_ text: String) -> Bool {
        func nameCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "." }
        guard let first = text.first, first != "-" else { return false }
        if text.allSatisfy(nameCharacter) { return true }
        guard text.last == ")" || text.last == "]" else { return false }
        var depth = 0
        var opened = false
        var inString = false
        for (k, c) in text.enumerated() {
            if c == "\"" { inString.toggle() }
            if inString || c == "\"" { continue }
            if c == "(" || c == "[" {
                depth += 1
                opened = true
            } else if c == ")" || c == "]" {
                depth -= 1
                if depth == 0 && k != text.count - 1 { return false }
            } else if !opened && !nameCharacter(c) {
                return false
            }
        }
        return depth == 0 && opened
    }
}
