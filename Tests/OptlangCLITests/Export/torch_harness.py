"""Shared by the PyTorch export test scripts: torch (or SKIPPED), the exported optimizer
class, and a replay trace with its roles and layers.

usage inside a script: `from torch_harness import torch, load`; then
`cls, trace, roles, layers = load(module_path, trace_path)`; `replay(...)` of those steps the
optimizer through the trace.
"""
import importlib.util, json, sys
try:
    import torch
except ImportError:
    print("SKIPPED: torch cannot be imported")
    sys.exit(0)


def load(module_path, trace_path):
    spec = importlib.util.spec_from_file_location("exported", module_path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    cls = next(v for v in vars(m).values()
               if isinstance(v, type) and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer)
    trace = json.load(open(trace_path))
    roles = {p["name"]: p["role"] for p in trace["params"]}
    layers = {p["name"]: p.get("layer") for p in trace["params"]}
    return cls, trace, roles, layers


def replay(cls, trace, roles, layers):
    """The trace's parameters (name → torch.nn.Parameter) after `cls` stepped through its gradients."""
    params = {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float32).reshape(p["shape"]))
              for p in trace["params"]}
    total = trace.get("total_steps", len(trace["steps"]))
    opt = cls(params.items(), total_steps=total, role=lambda n, p: roles[n], layer=lambda n: layers[n])
    for s in trace["steps"]:
        for n, v in s["grads"].items():
            params[n].grad = torch.tensor(v, dtype=torch.float32).reshape(params[n].shape)
        opt.step()
    return params
