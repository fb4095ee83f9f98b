"""Replays a trace through an exported PyTorch optimizer; prints SKIPPED when torch is absent."""
import json, sys
from torch_harness import torch, load, replay
module_path, trace_path, out_path = sys.argv[1:4]
params = replay(*load(module_path, trace_path))


def number(x):
    """A float, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else str(x)


json.dump({"params": [{"name": n, "values": [number(x) for x in p.detach().reshape(-1).tolist()]} for n, p in params.items()]}, open(out_path, "w"))
print("OK")
