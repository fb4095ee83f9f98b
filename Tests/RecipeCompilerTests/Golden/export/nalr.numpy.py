"""nalr: noise-adaptive layerwise learning rates (LANTON).

Exported by optlang (golden) from Recipes/nalr.opt (sha256 5b3a7966c5b9ace9…) for numpy.
Generated from the recipe's optimised step graph: edit the recipe and export again rather than
editing this file. Comments name the recipe's state slots and the graph's nodes (%n, as
printed by `optlang graph`).
"""

import math
import re

import numpy as np

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
    return isinstance(x, np.ndarray)

def _bool(x):
    """A comparison's value as 1.0 / 0.0, element-wise for tensors."""
    return x.astype(np.float32) if _is_tensor(x) else (1.0 if x else 0.0)

def _select(c, a, b):
    if not (_is_tensor(c) or _is_tensor(a) or _is_tensor(b)):
        return a if c != 0 else b
    return np.where(np.asarray(c) != 0, a, b).astype(np.float32)

def _unary(name, x):
    """math.* on Python numbers (double precision), np.* on tensors (float32)."""
    if _is_tensor(x):
        if name == "rsqrt":
            return 1.0 / np.sqrt(x)
        return getattr(np, name)(x)
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
        return np.power(a, b, dtype=np.float32)
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
    with np.errstate(all="ignore"):
        return float(getattr(np, "power" if name == "pow" else name)(*(np.float64(a) for a in args)))

def _reduce(kind, x):
    """A norm or reduction of one tensor, in double precision."""
    d = x.astype(np.float64)
    if kind == "sum": return float(d.sum())
    if kind == "mean": return float(d.mean())
    if kind == "rms": return math.sqrt(float((d * d).mean()))
    if kind == "l2": return math.sqrt(float((d * d).sum()))
    if kind == "l1": return float(np.abs(d).sum())
    if kind == "linf": return float(np.abs(d).max())
    s = np.linalg.svd(d, compute_uv=False)
    return float(s.max()) if kind == "spectral" else float(s.sum())

def _newton_schulz(g, steps):
    """Muon's quintic Newton–Schulz iteration (KellerJordan/Muon), on the wide orientation."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.T if g.shape[0] > g.shape[1] else g
    x = (x / (np.linalg.norm(x.astype(np.float64)) + 1e-7)).astype(np.float32)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if g.shape[0] > g.shape[1] else x

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
    if group == "hidden":
        return {"G_prev": np.full((rows, cols), 0.0, dtype=np.float32), "H": 0.0, "momentum": np.full((rows, cols), 0.0, dtype=np.float32)}
    elif group == "embed_head":
        return {"G_prev": np.full((rows, cols), 0.0, dtype=np.float32), "H": 0.0, "momentum": np.full((rows, cols), 0.0, dtype=np.float32)}
    elif group == "rest":
        return {"m": np.full((rows, cols), 0.0, dtype=np.float32), "v": np.full((rows, cols), 0.0, dtype=np.float32)}
    raise KeyError(group)

def _group_hidden(members, params, grads, state, t, total, hp):
    """Group 'hidden' (matrix and role(attention, mlp)): one step for its members."""
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
    values = {name: {} for name in members}
    for name in members:  # stage 0
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols)
        g = grads[name].reshape(rows, cols).astype(np.float32)
        _t9 = _unary("sqrt", _div(float(rows), float(cols)))
        e[9] = _t9  # for a later stage
        noise = _reduce("nuclear", (g - st["G_prev"])) * _t9
        H_new = _select(_bool(t > 1.0), ((hp["beta2"] * st["H"]) + ((1.0 - hp["beta2"]) * (noise * noise))), st["H"])
        _t28 = (hp["lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        e[28] = _t28  # for a later stage
        _t32 = _div(1.0, _unary("sqrt", (H_new + hp["eps"])))
        e[32] = _t32  # for a later stage
        momentum_new = (hp["beta1"] * st["momentum"]) + ((1.0 - hp["beta1"]) * g)
        _t44 = _newton_schulz(momentum_new, 5)
        e[44] = _t44  # for a later stage
        st["G_prev"] = np.broadcast_to(g, st["G_prev"].shape).astype(np.float32)  # %3 state G_prev
        st["H"] = float(np.float32(H_new))  # %21 state H (rounded to float32)
        st["momentum"] = np.broadcast_to(momentum_new, st["momentum"].shape).astype(np.float32)  # %43 state momentum
        state["_log"].setdefault("noise_dual", {})[name] = float(noise)  # %49
    # %33: group_max over the group's layers
    reduced = max([values[name][32] for name in members]) if members else 0.0
    for name in members:
        values[name][33] = reduced
    for name in members:  # stage 1
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols)
        g = grads[name].reshape(rows, cols).astype(np.float32)
        _t9 = e[9]
        _t28 = e[28]
        _t32 = e[32]
        _t33 = e[33]
        _t44 = e[44]
        eta = _t28 * _div(_t32, _t33)
        x_new = x - ((eta * _t9) * _t44)
        params[name][...] = np.broadcast_to(x_new, (rows, cols)).reshape(shape)  # %48 X
        state["_log"].setdefault("rate", {})[name] = float(eta)  # %50

def _group_embed_head(members, params, grads, state, t, total, hp):
    """Group 'embed_head' (role(embedding, position, head)): one step for its members."""
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
    values = {name: {} for name in members}
    for name in members:  # stage 0
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols)
        g = grads[name].reshape(rows, cols).astype(np.float32)
        noise = _reduce("l1", (g - st["G_prev"]))
        H_new = _select(_bool(t > 1.0), ((hp["beta2"] * st["H"]) + ((1.0 - hp["beta2"]) * (noise * noise))), st["H"])
        _t23 = (hp["sign_lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        e[23] = _t23  # for a later stage
        _t27 = _div(1.0, _unary("sqrt", (H_new + hp["eps"])))
        e[27] = _t27  # for a later stage
        momentum_new = (hp["beta1"] * st["momentum"]) + ((1.0 - hp["beta1"]) * g)
        _t38 = _unary("sign", momentum_new)
        e[38] = _t38  # for a later stage
        st["G_prev"] = np.broadcast_to(g, st["G_prev"].shape).astype(np.float32)  # %3 state G_prev
        st["H"] = float(np.float32(H_new))  # %16 state H (rounded to float32)
        st["momentum"] = np.broadcast_to(momentum_new, st["momentum"].shape).astype(np.float32)  # %37 state momentum
        state["_log"].setdefault("noise_dual", {})[name] = float(noise)  # %43
    # %28: group_max over the group's layers
    reduced = max([values[name][27] for name in members]) if members else 0.0
    for name in members:
        values[name][28] = reduced
    for name in members:  # stage 1
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols)
        g = grads[name].reshape(rows, cols).astype(np.float32)
        _t23 = e[23]
        _t27 = e[27]
        _t28 = e[28]
        _t38 = e[38]
        eta = _t23 * _div(_t27, _t28)
        x_new = x - (eta * _t38)
        params[name][...] = np.broadcast_to(x_new, (rows, cols)).reshape(shape)  # %42 X
        state["_log"].setdefault("rate", {})[name] = float(eta)  # %44

def _group_rest(members, params, grads, state, t, total, hp):
    """Group 'rest' (all): one step for its members."""
    # nalr.opt, lines 68–70:
    #   group rest: all {
    #       use adamw.all(lr: adam_lr, beta1: 0.9, beta2: 0.95, eps: 1e-10, wd: 0, warmup: warmup, decay_to: decay_to)
    #   }
    values = {name: {} for name in members}
    for name in members:  # stage 0
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols)
        g = grads[name].reshape(rows, cols).astype(np.float32)
        adamw_eta = (hp["adam_lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        adamw_m = (0.9 * st["m"]) + (0.09999999999999998 * g)
        adamw_v = (0.95 * st["v"]) + (0.050000000000000044 * (g * g))
        adamw_v_hat = adamw_v / (1.0 - _power(0.95, t))
        x_new = (x * (1.0 - (adamw_eta * 0.0))) - ((adamw_m * _div(adamw_eta, (1.0 - _power(0.9, t)))) / (_unary("sqrt", adamw_v_hat) + (1e-10)))
        st["m"] = np.broadcast_to(adamw_m, st["m"].shape).astype(np.float32)  # %20 state m
        st["v"] = np.broadcast_to(adamw_v, st["v"].shape).astype(np.float32)  # %28 state v
        params[name][...] = np.broadcast_to(x_new, (rows, cols)).reshape(shape)  # %42 X

def init_state(params, roles=None, layers=None):
    """The optimizer state for `params` (a dict name → float32 array).

    `roles` and `layers` (dicts name → role / block index) default to `default_role` and
    `default_layer`. Raises ValueError when a parameter lands in no group.
    """
    role_of = (lambda n, s: roles[n]) if roles is not None else default_role
    layer_of = (lambda n: layers.get(n)) if layers is not None else default_layer
    groups = _assign([(n, tuple(a.shape)) for n, a in params.items()], role_of, layer_of)
    state = {name: _initial_state(groups[name], a) for name, a in params.items()}
    state["_groups"] = groups
    state["_log"] = {}
    return state

def step(params, grads, state, t, total_steps, hp=None):
    """One optimizer step (t counts from 1): updates `params` and `state` in place."""
    hp = dict(HYPERPARAMETERS, **(hp or {}))
    names = list(params)
    _group_hidden([n for n in names if state["_groups"][n] == "hidden"], params, grads, state, float(t), float(total_steps), hp)
    _group_embed_head([n for n in names if state["_groups"][n] == "embed_head"], params, grads, state, float(t), float(total_steps), hp)
    _group_rest([n for n in names if state["_groups"][n] == "rest"], params, grads, state, float(t), float(total_steps), hp)

