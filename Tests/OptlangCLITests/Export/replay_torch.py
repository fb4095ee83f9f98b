"""Replays a trace through an exported PyTorch optimizer; prints SKIPPED when torch is absent."""
import json, sys
from torch_harness import torch, load
module_path, trace_path, out_path = sys.argv[1:4]
cls, trace, roles, layers = load(module_path, trace_path)
params = {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float32).reshape(p["shape"])) for p in trace["params"]}
total = trace.get("total_steps", len(trace["steps"]))
opt = cls(params.items(), total_steps=total, role=lambda n, p: roles[n], layer=lambda n: layers[n])
for s in trace["steps"]:
    for n, v in s["grads"].items():
        params[n].grad = torch.tensor(v, dtype=torch.float32).reshape(params[n].shape)
    opt.step()


def number(x):
    """A float, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else str(x)


json.dump({"params": [{"name": n, "values": [number(x) for x in p.detach().reshape(-1).tolist()]} for n, p in params.items()]}, open(out_path, "w"))
print("OK")
