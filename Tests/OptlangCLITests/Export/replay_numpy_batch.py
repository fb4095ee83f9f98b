# Replays one trace through every numpy export in a folder, in one process.
# usage: replay_numpy_batch.py FOLDER TRACE.json OUT.json
# OUT.json maps each module's file name to {"params": {name: [values]}} or {"error": text}.
import glob, importlib.util, json, os, sys, traceback
import numpy as np

folder, trace_path, out_path = sys.argv[1:4]
trace = json.load(open(trace_path))
total = trace.get("total_steps", len(trace["steps"]))
roles = {p["name"]: p["role"] for p in trace["params"]}
layers = {p["name"]: p.get("layer") for p in trace["params"]}
results = {}


def number(x):
    """A float, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    x = float(x)
    return x if np.isfinite(x) else str(x)


np.seterr(all="ignore")
for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
    name = os.path.basename(path)
    try:
        spec = importlib.util.spec_from_file_location(name[:-3], path)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        params = {p["name"]: np.array(p["values"], dtype=np.float32).reshape(p["shape"]) for p in trace["params"]}
        state = m.init_state(params, roles=roles, layers=layers)
        for t, s in enumerate(trace["steps"], 1):
            grads = {n: np.array(v, dtype=np.float32).reshape(params[n].shape) for n, v in s["grads"].items()}
            m.step(params, grads, state, t, total)
        results[name] = {"params": {n: [number(x) for x in a.reshape(-1)] for n, a in params.items()}}
    except Exception:
        results[name] = {"error": traceback.format_exc(limit=3)}
json.dump(results, open(out_path, "w"))
