"""muon: momentum orthogonalized by Newton-Schulz.

Exported by optlang (golden) from Recipes/muon.opt (sha256 360dbec74ff0b361…) for numpy.
Generated from the recipe's optimised step graph: edit the recipe and export again rather than
editing this file. Comments name the recipe's state slots and the graph's nodes (%n, as
printed by `optlang graph`).
"""

import math
import re

import numpy as np

HYPERPARAMETERS = {
    "lr": 0.02,
    "beta": 0.95,
    "wd": 0.0,
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

def _maximum(a, b):
    if _is_tensor(a) or _is_tensor(b):
        return np.maximum(a, b)
    return math.nan if a != a or b != b else max(a, b)

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
        raise ValueError(f"recipe 'muon' leaves {len(leftover)} parameter(s) without a group: " + ", ".join(leftover))
    return assignment

def _initial_state(group, value):
    """Fresh state slots of the parameter `value`, as a dict slot → value."""
    shape = tuple(value.shape)
    rows = shape[0] if len(shape) else 1
    cols = (math.prod(shape) // rows) if rows else 0
    if group == "hidden":
        return {"u": np.full((rows, cols), 0.0, dtype=np.float32)}
    elif group == "rest":
        return {"m": np.full((rows, cols), 0.0, dtype=np.float32), "v": np.full((rows, cols), 0.0, dtype=np.float32)}
    raise KeyError(group)

def _group_hidden(members, params, grads, state, t, total, hp):
    """Group 'hidden' (matrix and role(attention, mlp)): one step for its members."""
    # muon.opt, lines 29–34:
    #   group hidden: matrix and role(attention, mlp) {
    #       eta = lr * linear_warmup(warmup) * cosine_decay(final: decay_to)
    #       u = momentum(G, beta, nesterov: true)
    #       X *= 1 - eta * wd
    #       X -= eta * sqrt(max(1, rows / cols)) * orthogonalize(u, steps: 5)
    #   }
    values = {name: {} for name in members}
    for name in members:  # stage 0
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols)
        g = grads[name].reshape(rows, cols).astype(np.float32)
        eta = (hp["lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        _t13 = (1.0 - hp["beta"]) * g
        u_new = (hp["beta"] * st["u"]) + _t13
        u = _t13 + (hp["beta"] * u_new)
        x_new = (x * (1.0 - (eta * hp["wd"]))) - ((eta * _unary("sqrt", _maximum(1.0, _div(float(rows), float(cols))))) * _newton_schulz(u, 5))
        st["u"] = np.broadcast_to(u_new, st["u"].shape).astype(np.float32)  # %15 state u
        params[name][...] = np.broadcast_to(x_new, (rows, cols)).reshape(shape)  # %32 X

def _group_rest(members, params, grads, state, t, total, hp):
    """Group 'rest' (all): one step for its members."""
    # muon.opt, lines 36–38:
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
    _group_rest([n for n in names if state["_groups"][n] == "rest"], params, grads, state, float(t), float(total_steps), hp)

