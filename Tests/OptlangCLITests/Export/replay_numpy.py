import importlib.util, json, sys
import numpy as np
module_path, trace_path, out_path = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("exported", module_path)
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
trace = json.load(open(trace_path))
params = {p["name"]: np.array(p["values"], dtype=np.float32).reshape(p["shape"]) for p in trace["params"]}
roles = {p["name"]: p["role"] for p in trace["params"]}
layers = {p["name"]: p.get("layer") for p in trace["params"]}
state = m.init_state(params, roles=roles, layers=layers)
total = trace.get("total_steps", len(trace["steps"]))
for t, s in enumerate(trace["steps"], 1):
    grads = {n: np.array(v, dtype=np.float32).reshape(params[n].shape) for n, v in s["grads"].items()}
    m.step(params, grads, state, t, total)
def number(x):
    """A float, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    x = float(x)
    return x if np.isfinite(x) else str(x)


json.dump({"params": [{"name": n, "values": [number(x) for x in a.reshape(-1)]} for n, a in params.items()]}, open(out_path, "w"))
