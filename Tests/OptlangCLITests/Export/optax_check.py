"""Checks an Optax export as a JAX user would use it: python3 optax_check.py MODULE TRACE.

Prints one line per property (ExportTests reads them):
- a nested pytree (lists and dicts) steps exactly as the flat dict of the same dotted names;
- the state is a pytree named by parameter and slot;
- `optax.inject_hyperparams` can change the rate: setting lr to half its default gives the
  step of an optimizer built with half the rate;
- `jax.lax.scan` over jitted steps (a fixed state structure, logs included) equals the loop;
- `update` leaves its inputs as they were (pure)."""
import importlib.util, json, sys

try:
    import jax, jax.numpy as jnp, optax
except ImportError as error:
    print(f"SKIPPED: {error}")
    sys.exit(0)
import numpy as np

module_path, trace_path = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("exported", module_path)
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
trace = json.load(open(trace_path))
flat = {p["name"]: jnp.asarray(np.array(p["values"], dtype=np.float32).reshape(p["shape"])) for p in trace["params"]}
roles = {p["name"]: p["role"] for p in trace["params"]}
layers = {p["name"]: p.get("layer") for p in trace["params"]}
total = trace.get("total_steps", len(trace["steps"]))
grads = [{n: jnp.asarray(np.array(v, dtype=np.float32).reshape(flat[n].shape)) for n, v in s["grads"].items()}
         for s in trace["steps"]]


def nested(tree):
    """{"blocks.0.attn.wq": a} as {"blocks": [{"attn": {"wq": a}}]}: dicts, and lists where keys count 0, 1, …"""
    root = {}
    for name, value in tree.items():
        node, parts = root, name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node):
        if not isinstance(node, dict):
            return node
        node = {k: lists(v) for k, v in node.items()}
        if sorted(node) == [str(i) for i in range(len(node))]:
            return [node[str(i)] for i in range(len(node))]
        return node
    return lists(root)


def run(opt, params, gradients, jit=True):
    state = opt.init(params)

    def step(params, g, state):
        updates, state = opt.update(g, state, params)
        return optax.apply_updates(params, updates), state
    step = jax.jit(step) if jit else step
    for g in gradients:
        params, state = step(params, g, state)
    return params, state


def same(a, b):
    return all(bool(jnp.array_equal(x, y, equal_nan=True)) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


opt = m.optimizer(total, role=roles, layer=layers)
flat_result, flat_state = run(opt, flat, grads)
tree_result, tree_state = run(opt, nested(flat), [nested(g) for g in grads])
print("nested pytree steps as the flat dict:", jax.tree_util.tree_structure(tree_result) == jax.tree_util.tree_structure(nested(flat))
      and same(nested(flat_result), tree_result))

state = opt.init(flat)
named = set(state.slots) == set(flat) and all(
    set(state.slots[n]) == set(flat_state.slots[n]) and set(flat_state.slots[n]) == set(tree_state.slots[n]) for n in flat)
print("state named by parameter and slot:", named, sorted({s for n in flat for s in state.slots[n]}))

half = m.HYPERPARAMETERS["lr"] / 2
injected = optax.inject_hyperparams(m.optimizer, static_args=("total_steps", "role", "layer"))(
    total_steps=total, role=roles, layer=layers, lr=m.HYPERPARAMETERS["lr"])
state = injected.init(flat)
state.hyperparams["lr"] = jnp.asarray(half, jnp.float32)
params = flat
step = jax.jit(lambda p, g, s: (lambda u, s: (optax.apply_updates(p, u), s))(*injected.update(g, s, p)))
for g in grads:
    params, state = step(params, g, state)
halved, _ = run(m.optimizer(total, role=roles, layer=layers, lr=half), flat, grads)
error = max(float(jnp.max(jnp.abs(params[n] - halved[n]) / jnp.maximum(1.0, jnp.abs(halved[n])))) for n in flat)
moved = max(float(jnp.max(jnp.abs(halved[n] - flat_result[n]))) for n in flat)
print("inject_hyperparams sets the rate:", error <= 1e-6 and moved > 1e-6, f"(difference {error:.2e}, the rate moves values by {moved:.2e})")


def scanned(params, stacked):
    state = opt.init(params)

    def body(carry, g):
        params, state = carry
        updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state), None
    (params, state), _ = jax.lax.scan(body, (params, state), stacked)
    return params, state


stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *grads)
scan_result, scan_state = jax.jit(scanned)(flat, stacked)
error = max(float(jnp.max(jnp.abs(scan_result[n] - flat_result[n]) / jnp.maximum(1.0, jnp.abs(flat_result[n])))) for n in flat)
logs = jax.tree_util.tree_leaves(scan_state.logs)
print("scan of jitted steps equals the loop:", error <= 1e-6, f"(difference {error:.2e}; {len(logs)} logged values)")

state = opt.init(flat)
before = jax.tree_util.tree_map(lambda a: np.array(a), (flat, state))
opt.update(grads[0], state, flat)
after = jax.tree_util.tree_map(lambda a: np.array(a), (flat, state))
print("update leaves its inputs unchanged:", same(before, after) and jax.tree_util.tree_structure(before) == jax.tree_util.tree_structure(after))
