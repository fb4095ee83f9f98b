"""adamw: Adam with decoupled weight decay (PyTorch AdamW).

Exported by optlang (golden) from Recipes/adamw.opt (sha256 5e276f67d04db21c…) for Optax (JAX).
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
    "lr": 0.001,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-08,
    "wd": 0.01,
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

def _unary(name, x):
    if name == "rsqrt":
        return 1.0 / jnp.sqrt(x)
    return getattr(jnp, name)(x)

def _power(a, b):
    return jnp.power(a, b)

def _schedule(kind, t, total, first, second=0.0):
    if kind == "linear_warmup": return jnp.minimum(1.0, t / jnp.maximum(first, 1.0))
    if kind == "cosine_decay": return first + (1 - first) * 0.5 * (1 + jnp.cos(math.pi * jnp.minimum(t, total) / max(total, 1.0)))
    return jnp.maximum(0.0, jnp.minimum(jnp.minimum(t / jnp.maximum(first, 1.0), 1.0), (total - t) / jnp.maximum(second, 1.0)))

# Groups in the recipe's order: a parameter belongs to the first whose selector accepts it.
GROUPS = (
    ("all", lambda name, role, layer, shape: True),
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
        raise ValueError(f"recipe 'adamw' leaves {len(leftover)} parameter(s) without a group: " + ", ".join(leftover))
    return assignment

def _initial_state(group, value):
    """Fresh state slots of the parameter `value`, as a dict slot → value."""
    shape = tuple(value.shape)
    rows = shape[0] if len(shape) else 1
    cols = (math.prod(shape) // rows) if rows else 0
    if group == "all":
        return {"m": jnp.full((rows, cols), 0.0, dtype=jnp.float32), "v": jnp.full((rows, cols), 0.0, dtype=jnp.float32)}
    raise KeyError(group)

def _group_all(members, params, grads, state, t, total, hp):
    """Group 'all' (all): one step for its members."""
    # adamw.opt, lines 24–32:
    #   group all: all {
    #       eta = lr * linear_warmup(warmup) * cosine_decay(final: decay_to)
    #       X *= 1 - eta * wd
    #       m = momentum(G, beta1)
    #       v = ema_variance(G, beta2)
    #       m_hat = m / (1 - beta1^t)
    #       v_hat = v / (1 - beta2^t)
    #       X -= eta * m_hat / (sqrt(v_hat) + eps)
    #   }
    values = {name: {} for name in members}
    for name in members:  # stage 0
        e, st = values[name], state[name]
        shape = tuple(params[name].shape)
        rows = shape[0] if len(shape) else 1
        cols = (math.prod(shape) // rows) if rows else 0
        x = params[name].reshape(rows, cols).astype(jnp.float32)
        g = grads[name].reshape(rows, cols).astype(jnp.float32)
        eta = (hp["lr"] * _schedule("linear_warmup", t, total, hp["warmup"])) * _schedule("cosine_decay", t, total, hp["decay_to"])
        m = (hp["beta1"] * st["m"]) + ((1.0 - hp["beta1"]) * g)
        v = (hp["beta2"] * st["v"]) + ((1.0 - hp["beta2"]) * (g * g))
        v_hat = v / (1.0 - _power(hp["beta2"], t))
        x_new = (x * (1.0 - (eta * hp["wd"]))) - ((m * (eta / (1.0 - _power(hp["beta1"], t)))) / (_unary("sqrt", v_hat) + hp["eps"]))
        st["m"] = m  # %20 state m
        st["v"] = v  # %28 state v
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

def optimizer(total_steps, role=None, layer=None, *, lr=HYPERPARAMETERS["lr"], beta1=HYPERPARAMETERS["beta1"], beta2=HYPERPARAMETERS["beta2"], eps=HYPERPARAMETERS["eps"], wd=HYPERPARAMETERS["wd"], warmup=HYPERPARAMETERS["warmup"], decay_to=HYPERPARAMETERS["decay_to"]):
    """adamw as an optax.GradientTransformation.

    `total_steps` is the `T` of the recipe's schedules (`t` counts updates from 1). Parameters
    are any pytree; a parameter's name is its key path joined by "." (a flat dict keyed by
    dotted names works). `role` maps (name, array) to one of ROLES and `layer` maps a name to
    its block index; each may also be a dict by name (defaults: `default_role`,
    `default_layer`). Hyperparameters are keyword arguments (defaults are the recipe's); they
    may be arrays, as `optax.inject_hyperparams` passes them. `update(grads, state, params)`
    needs `params` and returns the new parameters minus the old (`optax.apply_updates`).
    """
    hp = {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "wd": wd, "warmup": warmup, "decay_to": decay_to}
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
        _group_all([n for n in names if groups[n] == "all"], new, grads, state, t, float(total_steps), hp)
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
            raise ValueError("adamw needs the parameters: update(grads, state, params)")
        grads, treedef = _named_leaves(updates)
        params, _ = _named_leaves(params)
        if set(grads) != set(params):
            raise ValueError("the gradients and the parameters name different leaves")
        new, slots, logs = step(grads, state.count, state.slots, params)
        deltas = [(new[n] - params[n]).astype(params[n].dtype) for n in grads]
        return jax.tree_util.tree_unflatten(treedef, deltas), State(state.count + 1, slots, logs)

    return optax.GradientTransformation(init, update)

