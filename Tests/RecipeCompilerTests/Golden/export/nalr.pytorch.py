"""nalr: noise-adaptive layerwise learning rates (LANTON).

Exported by optlang (golden) from Recipes/nalr.opt (sha256 5b3a7966c5b9ace9…) for PyTorch.
Generated from the recipe's optimised step graph: edit the recipe and export again rather than
editing this file. Comments name the recipe's state slots and the graph's nodes (%n, as
printed by `optlang graph`).
"""

import math
import re

import torch
import torch.distributed as dist

try:
    from torch.distributed.tensor import DTensor, Shard
except ImportError:  # a torch built without distributed support
    DTensor = Shard = None

HYPERPARAMETERS = {
    "lr": 0.02,
    "sign_lr": 0.0003,
    "beta1": 0.95,
    "beta2": 0.95,
    "eps": 1e-08,
    "adam_lr": 0.0003,
    "warmup": 0.0,
    "decay_to": 1.0,
}

ROLES = ("embedding", "position", "head", "attention", "mlp", "norm", "bias")

def default_role(name, shape):
    """The optimizer role of a parameter from common module names (see docs/export.md)."""
    n = name.lower()
    if len(shape) < 2:
        return "bias" if n.endswith("bias") else "norm"
    if re.search(r"(wpe|pos|position)", n):
        return "position"
    if re.search(r"(wte|embed|tok)", n):
        return "embedding"
    if re.search(r"(lm_head|head|output|unembed)", n):
        return "head"
    if re.search(r"(attn|attention|q_proj|k_proj|v_proj|o_proj|wq|wk|wv|wo|c_attn)", n):
        return "attention"
    return "mlp"

def default_layer(name):
    """The block index in names like `blocks.3.…`, `layers.3.…`, `h.3.…`, else None."""
    m = re.search(r"(?:^|\.)(?:blocks|layers|layer|h)\.(\d+)(?:\.|$)", name)
    return int(m.group(1)) if m else None

def _is_tensor(x):
    return isinstance(x, torch.Tensor)

def _per_layer(v, device):
    """A per-layer value (a number or a 0-d tensor) as a 0-d float64 tensor on `device`."""
    return v.to(torch.float64) if _is_tensor(v) else torch.full((), v, dtype=torch.float64, device=device)

def _scalar32(v, device):
    """A per-layer state value: rounded to float32, kept as a 0-d float64 tensor on `device`."""
    return _per_layer(v, device).to(torch.float32).to(torch.float64)

def _layer_values(values):
    """Per-layer values as a multi-tensor operation takes them: all numbers, or all 0-d tensors."""
    if not any(_is_tensor(v) for v in values):
        return values
    device = next(v.device for v in values if _is_tensor(v))
    return [_per_layer(v, device) for v in values]

def _group_reduce(kind, values, device):
    """max, sum or mean over a group's per-layer values, on the device (no host synchronisation)."""
    v = torch.stack([_per_layer(x, device) for x in values])
    return v.max() if kind == "max" else v.sum() if kind == "sum" else v.mean()

class _Shard:
    """Where this process's rows of a row-sharded parameter lie: rows start:stop of `rows`, in
    chunks of `size` rows (torch.chunk's split, as FSDP2 shards), over `group`."""
    def __init__(self, group, rows):
        self.group, self.rows = group, rows
        self.world, rank = dist.get_world_size(group), dist.get_rank(group)
        self.size = -(-rows // self.world)
        self.start = min(rank * self.size, rows)
        self.stop = min(self.start + self.size, rows)

def _shard_of(p, rows, name=None):
    """None for a whole tensor; a _Shard for a DTensor sharded by rows on a 1-d mesh (FSDP2)."""
    if DTensor is None or not isinstance(p, DTensor):
        return None
    if p.device_mesh.ndim != 1 or len(p.placements) != 1 or not (isinstance(p.placements[0], Shard) and p.placements[0].dim == 0):
        raise ValueError(f"parameter {name or ''!r}: placements {p.placements} on a {p.device_mesh.ndim}-d mesh; only Shard(0) on a 1-d mesh (FSDP2's fully_shard) is supported")
    return _Shard(p.device_mesh.get_group(), rows)

def _local(t):
    """This process's part of `t`: a DTensor's local shard, else `t` itself."""
    return t.to_local() if DTensor is not None and isinstance(t, DTensor) else t

def _matrix(t, cols):
    """This process's rows of `t` as a (rows here) × cols matrix."""
    t = _local(t)
    return t.reshape(t.shape[0] if t.dim() else 1, cols)

def _write(p, value, like):
    """Writes `value`, broadcast to the shape of `like` (this process's rows), into the parameter."""
    local = _local(p.data)
    if value is like and like.data_ptr() == local.data_ptr():
        return  # `like` is a view of the parameter, already updated in place
    local.copy_(torch.broadcast_to(torch.as_tensor(value, device=like.device), like.shape).reshape(local.shape))

def _gather(x, sh):
    """The whole matrix from every process's rows `x` (padded to equal chunks for the collective)."""
    padded = x.new_zeros((sh.size,) + tuple(x.shape[1:]))
    padded[: x.shape[0]] = x
    chunks = [torch.empty_like(padded) for _ in range(sh.world)]
    dist.all_gather(chunks, padded, group=sh.group)
    return torch.cat(chunks)[: sh.rows]

def _sum_across(r, sh, largest=False):
    """Adds (or takes the largest of) every process's partial result `r`."""
    dist.all_reduce(r, op=dist.ReduceOp.MAX if largest else dist.ReduceOp.SUM, group=sh.group)
    return r

def _bool(x):
    """A comparison's value as 1.0 / 0.0, element-wise for tensors."""
    return x.to(torch.float32) if _is_tensor(x) else (1.0 if x else 0.0)

def _select(c, a, b):
    if not (_is_tensor(c) or _is_tensor(a) or _is_tensor(b)):
        return a if c != 0 else b
    if not _is_tensor(c):
        return a if c != 0 else b
    if not (_is_tensor(a) or _is_tensor(b)):
        # Two numbers: a per-layer choice stays in double precision, an element-wise one in float32.
        a = torch.full((), a, dtype=torch.float64 if c.dim() == 0 else torch.float32, device=c.device)
    return torch.where(c != 0, a, b)

def _unary(name, x):
    """math.* on Python numbers (double precision), torch.* on tensors (float32)."""
    if _is_tensor(x):
        if name == "rsqrt":
            return 1.0 / torch.sqrt(x)
        return getattr(torch, name)(x)
    if name == "rsqrt":
        r = _unary("sqrt", x)
        return 1.0 / r if r != 0 else math.copysign(math.inf, r)
    if name == "sign":
        return (x > 0) - (x < 0) if x == x else x
    if name == "abs":
        return abs(x)
    try:
        return getattr(math, name)(x)
    except (ValueError, OverflowError):
        return _ieee(name, x)

def _power(a, b):
    if _is_tensor(a) or _is_tensor(b):
        return torch.pow(a, b)
    try:
        return math.pow(a, b)
    except (ValueError, OverflowError):
        return _ieee("pow", a, b)

def _div(a, b):
    """a / b, as IEEE divides two numbers by zero (±inf, NaN) where Python would raise."""
    if _is_tensor(a) or _is_tensor(b) or b != 0:
        return a / b
    return math.copysign(math.inf, a) * math.copysign(1.0, b) if a == a and a != 0 else math.nan

def _ieee(name, *args):
    """A number outside math's domain (the root or logarithm of a negative number, an
    overflow) as optlang computes it, NaN or ±inf, with the array library in double precision."""
    return getattr(torch, name)(*(torch.tensor(a, dtype=torch.float64) for a in args)).item()

def _reduce(kind, x, sh=None):
    """A norm or reduction of one tensor, in double precision, as a 0-d tensor on its device."""
    d = x.double()
    if sh is not None:
        if kind in ("spectral", "nuclear"):
            s = torch.linalg.svdvals(_gather(d, sh))
            return s.max() if kind == "spectral" else s.sum()
        if kind == "linf":
            return _sum_across(torch.abs(d).amax() if d.numel() else d.new_zeros(()), sh, largest=True)
        r = _sum_across(torch.abs(d).sum() if kind == "l1" else (d * d).sum() if kind in ("rms", "l2") else d.sum(), sh)
        n = sh.rows * d.shape[1]
        return r / n if kind == "mean" else torch.sqrt(r / n) if kind == "rms" else torch.sqrt(r) if kind == "l2" else r
    if kind == "sum": return d.sum()
    if kind == "mean": return d.mean()
    if kind == "rms": return torch.sqrt((d * d).mean())
    if kind == "l2": return torch.sqrt((d * d).sum())
    if kind == "l1": return torch.abs(d).sum()
    if kind == "linf": return torch.abs(d).max()
    s = torch.linalg.svdvals(d)
    return s.max() if kind == "spectral" else s.sum()

def _orthogonalize(gs, steps, shards):
    """Muon's quintic Newton–Schulz iteration (KellerJordan/Muon) of each matrix: the matrices of
    one shape together, as one batched product chain. A sharded matrix is gathered whole, one
    at a time (so that a process holds one gathered matrix at most), and this process's rows of
    the result kept."""
    out = [None] * len(gs)
    batches = {}
    for k, (g, sh) in enumerate(zip(gs, shards)):
        if sh is not None:
            out[k] = _newton_schulz([_gather(g, sh)], steps)[0][sh.start : sh.stop]
        else:
            batches.setdefault((tuple(g.shape), g.dtype, g.device), []).append(k)
    for ks in batches.values():
        for k, y in zip(ks, _newton_schulz([gs[k] for k in ks], steps)):
            out[k] = y
    return out

def _newton_schulz(gs, steps):
    """The iteration for matrices of one shape, on their wide orientation, as one batch."""
    a, b, c = 3.4445, -4.7750, 2.0315
    tall = gs[0].shape[0] > gs[0].shape[1]
    x = torch.stack([g.mT if tall else g for g in gs])
    x = x / (torch.linalg.vector_norm(x.double(), dim=(-2, -1), keepdim=True) + 1e-7).to(x.dtype)
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return list(x.mT if tall else x)

def _schedule(kind, t, total, first, second=0.0):
    if kind == "linear_warmup": return min(1.0, t / max(first, 1.0))
    if kind == "cosine_decay": return first + (1 - first) * 0.5 * (1 + math.cos(math.pi * min(t, total) / max(total, 1.0)))
    return max(0.0, min(t / max(first, 1.0), 1.0, (total - t) / max(second, 1.0)))

# Groups in the recipe's order: a parameter belongs to the first whose selector accepts it.
GROUPS = (
    ("hidden", lambda name, role, layer, shape: (len(shape) >= 2 and role in ("attention", "mlp",))),
    ("embed_head", lambda name, role, layer, shape: role in ("embedding", "position", "head",)),
    ("rest", lambda name, role, layer, shape: True),
)

def _assign(named_shapes, role_of, layer_of):
    """Group of each parameter; raises when some land in no group (the rule optlang applies)."""
    assignment, leftover = {}, []
    for name, shape in named_shapes:
        role, layer = role_of(name, shape), layer_of(name)
        if role not in ROLES:
            raise ValueError(f"parameter {name!r}: role {role!r} is not one of {ROLES}")
        group = next((g for g, accepts in GROUPS if accepts(name, role, layer, tuple(shape))), None)
        if group is None:
            leftover.append(f"{name} (role {role}, shape {list(shape)})")
        assignment[name] = group
    if leftover:
        raise ValueError(f"recipe 'nalr' leaves {len(leftover)} parameter(s) without a group: " + ", ".join(leftover))
    return assignment

def _initial_state(group, value):
    """Fresh state slots of the parameter `value`, as a dict slot → value."""
    shape = tuple(value.shape)
    rows = shape[0] if len(shape) else 1
    cols = (math.prod(shape) // rows) if rows else 0
    x = _matrix(value.detach(), cols)  # this process's rows
    if group == "hidden":
        return {"G_prev": torch.full((x.shape[0], cols), 0.0, dtype=torch.float32, device=value.device), "H": _per_layer(0.0, value.device), "momentum": torch.full((x.shape[0], cols), 0.0, dtype=torch.float32, device=value.device)}
    elif group == "embed_head":
        return {"G_prev": torch.full((x.shape[0], cols), 0.0, dtype=torch.float32, device=value.device), "H": _per_layer(0.0, value.device), "momentum": torch.full((x.shape[0], cols), 0.0, dtype=torch.float32, device=value.device)}
    elif group == "rest":
        return {"m": torch.full((x.shape[0], cols), 0.0, dtype=torch.float32, device=value.device), "v": torch.full((x.shape[0], cols), 0.0, dtype=torch.float32, device=value.device)}
    raise KeyError(group)

def _group_hidden(members, params, grads, state, t, total, hp):
    """Group 'hidden' (matrix and role(attention, mlp)): one step for all its members at once."""
    # nalr.opt, lines 44–54:
    #   group hidden: matrix and role(attention, mlp) {
    #       state G_prev = zeros
    #       state H = 0
    #       noise = dualnorm(G - G_prev, rms_to_rms)
    #       H = if t > 1 then beta2 * H + (1 - beta2) * square(noise) else H
    #       eta = lr * linear_warmup(warmup) * cosine_decay(final: decay_to) * layer_lr(1 / sqrt(H + eps), by: max)
    #       X -= eta * sqrt(rows / cols) * orthogonalize(momentum(G, beta1), steps: 5)
    #       G_prev = G
    #       log noise_dual = noise
    #       log rate = eta
    #   }
    if not members:
        return
    ps = [params[name] for name in members]
    rows_of = [p.shape[0] if p.dim() else 1 for p in ps]
    cols_of = [(math.prod(p.shape) // rows) if rows else 0 for p, rows in zip(ps, rows_of)]
    shards = [_shard_of(p, rows) for p, rows in zip(ps, rows_of)]
    X = [_matrix(p.data, cols).float() for p, cols in zip(ps, cols_of)]
    G = [_matrix(grads[name], cols).float() for name, cols in zip(members, cols_of)]
    states = [state[name] for name in members]
    G_prev_old = [st["G_prev"] for st in states]
    _t2 = torch._foreach_sub(G, G_prev_old)
    _t9 = [_unary("sqrt", _div(float(rows), float(cols))) for rows, cols in zip(rows_of, cols_of)]
    noise = [_reduce("nuclear", _a, sh) * _t9 for _a, sh, _t9 in zip(_t2, shards, _t9)]
    H_old = [st["H"] for st in states]
    H_new = [_select(_bool(t > 1.0), ((hp["beta2"] * H_old) + ((1.0 - hp["beta2"]) * (noise * noise))), H_old) for H_old, noise in zip(H_old, noise)]
    _t32 = [_div(1.0, _unary("sqrt", (H_new + hp["eps"]))) for H_new in H_new]
    # %33: group_max over the group's layers
    _t33 = _group_reduce("max", _t32, X[0].device)
    eta = [((hp["lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])) * _div(_t32, _t33) for _t32 in _t32]
    momentum_old = [st["momentum"] for st in states]
    torch._foreach_mul_(momentum_old, hp["beta1"])
    torch._foreach_add_(momentum_old, G, alpha=1.0 - hp["beta1"])
    momentum_new = momentum_old  # updated in place
    _t45 = _orthogonalize(momentum_new, 5, shards)
    torch._foreach_mul_(_t45, _layer_values([eta * _t9 for eta, _t9 in zip(eta, _t9)]))
    torch._foreach_sub_(X, _t45)
    x_new = X  # updated in place
    for st, _v in zip(states, G): st["G_prev"] = torch.broadcast_to(_v, st["G_prev"].shape).clone()  # %3 state G_prev
    for st, x, _v in zip(states, X, H_new): st["H"] = _scalar32(_v, x.device)  # %21 state H (rounded to float32)
    for st, _v in zip(states, momentum_new): st["momentum"] = _v  # %43 state momentum
    for name, _v in zip(members, noise): state["_log"].setdefault("noise_dual", {})[name] = _v.detach().clone() if _is_tensor(_v) else _v  # %49
    for name, _v in zip(members, eta): state["_log"].setdefault("rate", {})[name] = _v.detach().clone() if _is_tensor(_v) else _v  # %50
    for _p, x, _v in zip(ps, X, x_new): _write(_p, _v, x)  # %48 X

def _group_embed_head(members, params, grads, state, t, total, hp):
    """Group 'embed_head' (role(embedding, position, head)): one step for all its members at once."""
    # nalr.opt, lines 56–66:
    #   group embed_head: role(embedding, position, head) {
    #       state G_prev = zeros
    #       state H = 0
    #       noise = dualnorm(G - G_prev, l1_to_linf)
    #       H = if t > 1 then beta2 * H + (1 - beta2) * square(noise) else H
    #       eta = sign_lr * linear_warmup(warmup) * cosine_decay(final: decay_to) * layer_lr(1 / sqrt(H + eps), by: max)
    #       X -= eta * sign(momentum(G, beta1))
    #       G_prev = G
    #       log noise_dual = noise
    #       log rate = eta
    #   }
    if not members:
        return
    ps = [params[name] for name in members]
    rows_of = [p.shape[0] if p.dim() else 1 for p in ps]
    cols_of = [(math.prod(p.shape) // rows) if rows else 0 for p, rows in zip(ps, rows_of)]
    shards = [_shard_of(p, rows) for p, rows in zip(ps, rows_of)]
    X = [_matrix(p.data, cols).float() for p, cols in zip(ps, cols_of)]
    G = [_matrix(grads[name], cols).float() for name, cols in zip(members, cols_of)]
    states = [state[name] for name in members]
    G_prev_old = [st["G_prev"] for st in states]
    _t2 = torch._foreach_sub(G, G_prev_old)
    noise = [_reduce("l1", _a, sh) for _a, sh in zip(_t2, shards)]
    H_old = [st["H"] for st in states]
    H_new = [_select(_bool(t > 1.0), ((hp["beta2"] * H_old) + ((1.0 - hp["beta2"]) * (noise * noise))), H_old) for H_old, noise in zip(H_old, noise)]
    _t27 = [_div(1.0, _unary("sqrt", (H_new + hp["eps"]))) for H_new in H_new]
    # %28: group_max over the group's layers
    _t28 = _group_reduce("max", _t27, X[0].device)
    eta = [((hp["sign_lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])) * _div(_t27, _t28) for _t27 in _t27]
    momentum_old = [st["momentum"] for st in states]
    torch._foreach_mul_(momentum_old, hp["beta1"])
    torch._foreach_add_(momentum_old, G, alpha=1.0 - hp["beta1"])
    momentum_new = momentum_old  # updated in place
    _t38 = torch._foreach_sign(momentum_new)
    torch._foreach_mul_(_t38, _layer_values(eta))
    torch._foreach_sub_(X, _t38)
    x_new = X  # updated in place
    for st, _v in zip(states, G): st["G_prev"] = torch.broadcast_to(_v, st["G_prev"].shape).clone()  # %3 state G_prev
    for st, x, _v in zip(states, X, H_new): st["H"] = _scalar32(_v, x.device)  # %16 state H (rounded to float32)
    for st, _v in zip(states, momentum_new): st["momentum"] = _v  # %37 state momentum
    for name, _v in zip(members, noise): state["_log"].setdefault("noise_dual", {})[name] = _v.detach().clone() if _is_tensor(_v) else _v  # %43
    for name, _v in zip(members, eta): state["_log"].setdefault("rate", {})[name] = _v.detach().clone() if _is_tensor(_v) else _v  # %44
    for _p, x, _v in zip(ps, X, x_new): _write(_p, _v, x)  # %42 X

def _group_rest(members, params, grads, state, t, total, hp):
    """Group 'rest' (all): one step for all its members at once."""
    # nalr.opt, lines 68–70:
    #   group rest: all {
    #       use adamw.all(lr: adam_lr, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0, warmup: warmup, decay_to: decay_to)
    #   }
    if not members:
        return
    ps = [params[name] for name in members]
    rows_of = [p.shape[0] if p.dim() else 1 for p in ps]
    cols_of = [(math.prod(p.shape) // rows) if rows else 0 for p, rows in zip(ps, rows_of)]
    X = [_matrix(p.data, cols).float() for p, cols in zip(ps, cols_of)]
    G = [_matrix(grads[name], cols).float() for name, cols in zip(members, cols_of)]
    states = [state[name] for name in members]
    adamw_eta = (hp["adam_lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
    torch._foreach_mul_(X, 1.0 - (adamw_eta * 0.0))
    m_old = [st["m"] for st in states]
    torch._foreach_mul_(m_old, 0.9)
    torch._foreach_add_(m_old, G, alpha=0.09999999999999998)
    adamw_m = m_old  # updated in place
    v_old = [st["v"] for st in states]
    torch._foreach_mul_(v_old, 0.95)
    torch._foreach_addcmul_(v_old, G, G, value=0.050000000000000044)
    adamw_v = v_old  # updated in place
    adamw_v_hat = torch._foreach_div(adamw_v, 1.0 - _power(0.95, t))
    torch._foreach_sqrt_(adamw_v_hat)
    torch._foreach_add_(adamw_v_hat, 1e-10)
    torch._foreach_addcdiv_(X, adamw_m, adamw_v_hat, value=-_div(adamw_eta, (1.0 - _power(0.9, t))))
    x_new = X  # updated in place
    for st, _v in zip(states, adamw_m): st["m"] = _v  # %20 state m
    for st, _v in zip(states, adamw_v): st["v"] = _v  # %28 state v
    for _p, x, _v in zip(ps, X, x_new): _write(_p, _v, x)  # %42 X

class Nalr(torch.optim.Optimizer):
    """nalr as a torch.optim.Optimizer.

    Pass `model.named_parameters()`; hyperparameters as keyword arguments (defaults are the
    recipe's); `role` maps (name, parameter) to one of ROLES (default: `default_role`), `layer`
    maps a name to its block index. Works under DistributedDataParallel unchanged, and under
    FSDP2 (`fully_shard`): element-wise work runs on each process's rows, whole-matrix
    operations gather the matrix or reduce across processes (docs/export.md).
    """

    def __init__(self, named_parameters, total_steps, role=None, layer=None, **hyperparameters):
        unknown = set(hyperparameters) - set(HYPERPARAMETERS)
        if unknown:
            raise TypeError(f"unknown hyperparameters {sorted(unknown)}; this optimizer has {list(HYPERPARAMETERS)}")
        named = [(n, p) for n, p in named_parameters if p.requires_grad]
        for n, p in named:
            if type(p).__name__ == "ShardedTensor":
                raise ValueError(f"parameter {n!r} is a ShardedTensor; nalr supports FSDP2's DTensor parameters (see docs/export.md)")
            _shard_of(p, p.shape[0] if p.dim() else 1, name=n)  # refuses layouts other than FSDP2's
        self.names = [n for n, _ in named]
        role_of = (lambda n, s: role(n, dict(named)[n])) if role is not None else default_role
        layer_of = layer if layer is not None else default_layer
        self.groups_of = _assign([(n, tuple(p.shape)) for n, p in named], role_of, layer_of)
        self.total_steps = total_steps
        self.t = 0
        self.logged = {}
        super().__init__([p for _, p in named], dict(HYPERPARAMETERS, **hyperparameters))
        self.by_name = dict(named)
        self.slots = {n: _initial_state(self.groups_of[n], p) for n, p in named}

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.t += 1
        hp = self.param_groups[0]
        params = self.by_name
        grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in params.items()}
        state = dict(self.slots, _log={})
        _group_hidden([n for n in self.names if self.groups_of[n] == "hidden"], params, grads, state, float(self.t), float(self.total_steps), hp)
        _group_embed_head([n for n in self.names if self.groups_of[n] == "embed_head"], params, grads, state, float(self.t), float(self.total_steps), hp)
        _group_rest([n for n in self.names if self.groups_of[n] == "rest"], params, grads, state, float(self.t), float(self.total_steps), hp)
        self.logged = state["_log"]
        return loss

    def state_dict(self):
        """State keyed by parameter name and slot name, so reordering parameters never swaps it."""
        return {"t": self.t, "slots": {n: {k: (v.clone() if torch.is_tensor(v) else v) for k, v in s.items()} for n, s in self.slots.items()}, "hyperparameters": {k: self.param_groups[0][k] for k in HYPERPARAMETERS}}

    def load_state_dict(self, state_dict):
        missing = set(self.slots) - set(state_dict["slots"])
        if missing:
            raise KeyError(f"state for {sorted(missing)} is missing")
        self.t = state_dict["t"]
        for n in self.slots:
            self.slots[n] = {k: (v.to(self.by_name[n].device, copy=True) if torch.is_tensor(v) else _per_layer(v, self.by_name[n].device) if isinstance(v, float) else v) for k, v in state_dict["slots"][n].items()}
        self.param_groups[0].update(state_dict.get("hyperparameters", {}))

