"""Replays one trace through every PyTorch export in a folder, in one process.

usage: replay_torch_batch.py FOLDER TRACE.json OUT.json
OUT.json maps each module's file name to {"params": {name: [values]}} or {"error": text}.
"""
import glob, os, sys, traceback
import json
from torch_harness import load, replay

folder, trace_path, out_path = sys.argv[1:4]
results = {}


def number(x):
    """A float, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else str(x)


for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
    name = os.path.basename(path)
    try:
        params = replay(*load(path, trace_path))
        results[name] = {"params": {n: [number(x) for x in p.detach().reshape(-1).tolist()] for n, p in params.items()}}
    except Exception:
        results[name] = {"error": traceback.format_exc(limit=3)}
json.dump(results, open(out_path, "w"))
