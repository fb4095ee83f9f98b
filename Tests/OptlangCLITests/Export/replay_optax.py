"""Replays a trace through an Optax export: python3 replay_optax.py MODULE TRACE OUT [--eager].

Parameters are a flat dict keyed by the trace's dotted names; roles and layers are passed as
dicts. Each step is `update` then `optax.apply_updates` under `jax.jit`, as a training loop
would do; with --eager, operation by operation (XLA's fusion contracts a·b + c into one
fused multiply-add on CPUs that have one, which the overflow test's cancellations magnify)."""
import importlib.util, json, sys

try:
    import jax, jax.numpy as jnp, optax
except ImportError as error:
    print(f"SKIPPED: {error}")
    sys.exit(0)
import numpy as np

module_path, trace_path, out_path = sys.argv[1:4]
eager = "--eager" in sys.argv[4:]
spec = importlib.util.spec_from_file_location("exported", module_path)
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
trace = json.load(open(trace_path))
params = {p["name"]: jnp.asarray(np.array(p["values"], dtype=np.float32).reshape(p["shape"])) for p in trace["params"]}
roles = {p["name"]: p["role"] for p in trace["params"]}
layers = {p["name"]: p.get("layer") for p in trace["params"]}
total = trace.get("total_steps", len(trace["steps"]))
opt = m.optimizer(total, role=roles, layer=layers)
state = opt.init(params)


def train_step(params, grads, state):
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state


train_step = train_step if eager else jax.jit(train_step)

for s in trace["steps"]:
    grads = {n: jnp.asarray(np.array(v, dtype=np.float32).reshape(params[n].shape)) for n, v in s["grads"].items()}
    params, state = train_step(params, grads, state)


def number(x):
    """A float, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    x = float(x)
    return x if np.isfinite(x) else str(x)


json.dump({"params": [{"name": n, "values": [number(x) for x in np.asarray(a).reshape(-1)]} for n, a in params.items()]}, open(out_path, "w"))
