"""nalr: noise-adaptive layerwise learning rates (LANTON).

Exported by optlang (golden) from Recipes/nalr.opt (sha256 5b3a7966c5b9ace9…) for Optax (JAX).
Generated from the recipe's optimised step graph: edit the recipe and export again rather than
editing this file. Comments name the recipe's state slots and the graph's nodes (%n, as
printed by `optlang graph`).
"""

import math
import re

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

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

# Per-layer values (norms, bias corrections, group reductions): double precision where
# jax_enable_x64 is set, JAX's float32 otherwise. Tensors are float32 either way.
_F = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32

def _bool(x):
    """A comparison's value as 1.0 / 0.0, element-wise for tensors."""
    return jnp.where(x, jnp.float32(1.0), jnp.float32(0.0))

def _select(c, a, b):
    return jnp.where(jnp.asarray(c) != 0, a, b)

def _unary(name, x):
    if name == "rsqrt":
        return 1.0 / jnp.sqrt(x)
    return getattr(jnp, name)(x)

def _power(a, b):
    return jnp.power(a, b)

def _reduce(kind, x):
    """A norm or reduction of one tensor, as a 0-d array of dtype _F."""
    d = x.astype(_F)
    if kind == "sum": return d.sum()
    if kind == "mean": return d.mean()
    if kind == "rms": return jnp.sqrt((d * d).mean())
    if kind == "l2": return jnp.sqrt((d * d).sum())
    if kind == "l1": return jnp.abs(d).sum()
    if kind == "linf": return jnp.abs(d).max()
    s = jnp.linalg.svd(d, compute_uv=False)
    return s.max() if kind == "spectral" else s.sum()

def _newton_schulz(g, steps):
    """Muon's quintic Newton–Schulz iteration (KellerJordan/Muon), on the wide orientation."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.T if g.shape[0] > g.shape[1] else g
    x = (x / (jnp.linalg.norm(x.astype(_F)) + 1e-7)).astype(jnp.float32)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if g.shape[0] > g.shape[1] else x

def _schedule(kind, t, total, first, second=0.0):
    if kind == "linear_warmup": return jnp.minimum(1.0, t / jnp.maximum(first, 1.0))
    if kind == "cosine_decay": return first + (1 - first) * 0.5 * (1 + jnp.cos(math.pi * jnp.minimum(t, total) / max(total, 1.0)))
    return jnp.maximum(0.0, jnp.minimum(jnp.minimum(t / jnp.maximum(first, 1.0), 1.0), (total - t) / jnp.maximum(second, 1.0)))

def _group_reduce(kind, values):
    """max, sum or mean over a group's per-layer values."""
    v = jnp.stack([jnp.asarray(x, _F) for x in values])
    return v.max() if kind == "max" else v.sum() if kind == "sum" else v.mean()

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
        return {"G_prev": jnp.full((rows, cols), 0.0, dtype=jnp.float32), "H": jnp.asarray(0.0, jnp.float32), "momentum": jnp.full((rows, cols), 0.0, dtype=jnp.float32)}
    elif group == "embed_head":
        return {"G_prev": jnp.full((rows, cols), 0.0, dtype=jnp.float32), "H": jnp.asarray(0.0, jnp.float32), "momentum": jnp.full((rows, cols), 0.0, dtype=jnp.float32)}
    elif group == "rest":
        return {"m": jnp.full((rows, cols), 0.0, dtype=jnp.float32), "v": jnp.full((rows, cols), 0.0, dtype=jnp.float32)}
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
        x = params[name].reshape(rows, cols).astype(jnp.float32)
        g = grads[name].reshape(rows, cols).astype(jnp.float32)
        _t9 = _unary("sqrt", (float(rows) / float(cols)))
        e[9] = _t9  # for a later stage
        noise = _reduce("nuclear", (g - st["G_prev"])) * _t9
        H_new = _select(_bool(t > 1.0), ((hp["beta2"] * st["H"]) + ((1.0 - hp["beta2"]) * (noise * noise))), st["H"])
        _t28 = (hp["lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        e[28] = _t28  # for a later stage
        _t32 = 1.0 / _unary("sqrt", (H_new + hp["eps"]))
        e[32] = _t32  # for a later stage
        momentum_new = (hp["beta1"] * st["momentum"]) + ((1.0 - hp["beta1"]) * g)
        _t44 = _newton_schulz(momentum_new, 5)
        e[44] = _t44  # for a later stage
        st["G_prev"] = jnp.broadcast_to(g, st["G_prev"].shape).astype(jnp.float32)  # %3 state G_prev
        st["H"] = jnp.asarray(H_new, jnp.float32)  # %21 state H (rounded to float32)
        st["momentum"] = momentum_new  # %43 state momentum
        state["_log"].setdefault("noise_dual", {})[name] = jnp.asarray(noise, _F)  # %49
    # %33: group_max over the group's layers
    reduced = _group_reduce("max", [values[name][32] for name in members]) if members else 0.0
    for name in members:
        values[name][33] = reduced
    for name in members:  # stage 1
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols).astype(jnp.float32)
        g = grads[name].reshape(rows, cols).astype(jnp.float32)
        _t9 = e[9]
        _t28 = e[28]
        _t32 = e[32]
        _t33 = e[33]
        _t44 = e[44]
        eta = _t28 * (_t32 / _t33)
        x_new = x - ((eta * _t9) * _t44)
        params[name] = jnp.broadcast_to(x_new, (rows, cols)).reshape(shape).astype(params[name].dtype)  # %48 X
        state["_log"].setdefault("rate", {})[name] = jnp.asarray(eta, _F)  # %50

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
        x = params[name].reshape(rows, cols).astype(jnp.float32)
        g = grads[name].reshape(rows, cols).astype(jnp.float32)
        noise = _reduce("l1", (g - st["G_prev"]))
        H_new = _select(_bool(t > 1.0), ((hp["beta2"] * st["H"]) + ((1.0 - hp["beta2"]) * (noise * noise))), st["H"])
        _t23 = (hp["sign_lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        e[23] = _t23  # for a later stage
        _t27 = 1.0 / _unary("sqrt", (H_new + hp["eps"]))
        e[27] = _t27  # for a later stage
        momentum_new = (hp["beta1"] * st["momentum"]) + ((1.0 - hp["beta1"]) * g)
        _t38 = _unary("sign", momentum_new)
        e[38] = _t38  # for a later stage
        st["G_prev"] = jnp.broadcast_to(g, st["G_prev"].shape).astype(jnp.float32)  # %3 state G_prev
        st["H"] = jnp.asarray(H_new, jnp.float32)  # %16 state H (rounded to float32)
        st["momentum"] = momentum_new  # %37 state momentum
        state["_log"].setdefault("noise_dual", {})[name] = jnp.asarray(noise, _F)  # %43
    # %28: group_max over the group's layers
    reduced = _group_reduce("max", [values[name][27] for name in members]) if members else 0.0
    for name in members:
        values[name][28] = reduced
    for name in members:  # stage 1
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols).astype(jnp.float32)
        g = grads[name].reshape(rows, cols).astype(jnp.float32)
        _t23 = e[23]
        _t27 = e[27]
        _t28 = e[28]
        _t38 = e[38]
        eta = _t23 * (_t27 / _t28)
        x_new = x - (eta * _t38)
        params[name] = jnp.broadcast_to(x_new, (rows, cols)).reshape(shape).astype(params[name].dtype)  # %42 X
        state["_log"].setdefault("rate", {})[name] = jnp.asarray(eta, _F)  # %44

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
        x = params[name].reshape(rows, cols).astype(jnp.float32)
        g = grads[name].reshape(rows, cols).astype(jnp.float32)
        adamw_eta = (hp["adam_lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        adamw_m = (0.9 * st["m"]) + (0.09999999999999998 * g)
        adamw_v = (0.95 * st["v"]) + (0.050000000000000044 * (g * g))
        adamw_v_hat = adamw_v / (1.0 - _power(0.95, t))
        x_new = (x * (1.0 - (adamw_eta * 0.0))) - ((adamw_m * (adamw_eta / (1.0 - _power(0.9, t)))) / (_unary("sqrt", adamw_v_hat) + (1e-10)))
        st["m"] = adamw_m  # %20 state m
        st["v"] = adamw_v  # %28 state v
        params[name] = jnp.broadcast_to(x_new, (rows, cols)).reshape(shape).astype(params[name].dtype)  # %42 X

class State(NamedTuple):
    """The optimizer state, a pytree: the number of steps taken, each parameter's state slots
    (`slots[name][slot]`, name = the parameter's key path joined by "."), and the values of the
    recipe's `log` statements at the last step (`logs[log][name]`)."""
    count: jax.Array
    slots: dict
    logs: dict

def _key_name(key):
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)

def _named_leaves(tree):
    """The leaves of a pytree by name (key path joined by "."), and its structure."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = [".".join(_key_name(k) for k in path) for path, _ in leaves]
    if len(set(names)) != len(names):
        raise ValueError("two parameters have the same dotted name; use keys without dots or another layout")
    return dict(zip(names, (leaf for _, leaf in leaves))), treedef

def optimizer(total_steps, role=None, layer=None, *, lr=HYPERPARAMETERS["lr"], sign_lr=HYPERPARAMETERS["sign_lr"], beta1=HYPERPARAMETERS["beta1"], beta2=HYPERPARAMETERS["beta2"], eps=HYPERPARAMETERS["eps"], adam_lr=HYPERPARAMETERS["adam_lr"], warmup=HYPERPARAMETERS["warmup"], decay_to=HYPERPARAMETERS["decay_to"]):
    """nalr as an optax.GradientTransformation.

    `total_steps` is the `T` of the recipe's schedules (`t` counts updates from 1). Parameters
    are any pytree; a parameter's name is its key path joined by "." (a flat dict keyed by
    dotted names works). `role` maps (name, array) to one of ROLES and `layer` maps a name to
    its block index; each may also be a dict by name (defaults: `default_role`,
    `default_layer`). Hyperparameters are keyword arguments (defaults are the recipe's); they
    may be arrays, as `optax.inject_hyperparams` passes them. `update(grads, state, params)`
    needs `params` and returns the new parameters minus the old (`optax.apply_updates`).
    """
    hp = {"lr": lr, "sign_lr": sign_lr, "beta1": beta1, "beta2": beta2, "eps": eps, "adam_lr": adam_lr, "warmup": warmup, "decay_to": decay_to}
    layer_of = default_layer if layer is None else layer if callable(layer) else (lambda n: layer.get(n))

    def groups_of(params):
        if role is None:
            role_of = default_role
        elif callable(role):
            role_of = lambda n, s: role(n, params[n])
        else:
            role_of = lambda n, s: role[n]
        return _assign([(n, tuple(a.shape)) for n, a in params.items()], role_of, layer_of)

    def step(grads, count, slots, params):
        """The new parameters, slots and logs: pure; the inputs are not changed."""
        groups = groups_of(params)
        new = dict(params)
        state = {n: dict(s) for n, s in slots.items()}
        state["_log"] = {}
        t = (count + 1).astype(_F)
        names = list(params)
        _group_hidden([n for n in names if groups[n] == "hidden"], new, grads, state, t, float(total_steps), hp)
        _group_embed_head([n for n in names if groups[n] == "embed_head"], new, grads, state, t, float(total_steps), hp)
        _group_rest([n for n in names if groups[n] == "rest"], new, grads, state, t, float(total_steps), hp)
        logs = state.pop("_log")
        return new, state, logs

    def init(params):
        params, _ = _named_leaves(params)
        groups = groups_of(params)
        slots = {n: _initial_state(groups[n], a) for n, a in params.items()}
        count = jnp.zeros([], jnp.int32)
        # The logs' structure, from a step traced without running it; zeros until the first update.
        shapes = jax.eval_shape(lambda: step(params, count, slots, params)[2])
        logs = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        return State(count=count, slots=slots, logs=logs)

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("nalr needs the parameters: update(grads, state, params)")
        grads, treedef = _named_leaves(updates)
        params, _ = _named_leaves(params)
        if set(grads) != set(params):
            raise ValueError("the gradients and the parameters name different leaves")
        new, slots, logs = step(grads, state.count, state.slots, params)
        deltas = [(new[n] - params[n]).astype(params[n].dtype) for n in grads]
        return jax.tree_util.tree_unflatten(treedef, deltas), State(state.count + 1, slots, logs)

    return optax.GradientTransformation(init, update)

