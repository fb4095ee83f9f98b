"""A PyTorch export's state_dict round trip: 2 steps, state_dict() through torch.save and
torch.load into a new optimizer over copies of the parameters, 3 more steps; the parameters
must equal 5 uninterrupted steps bit for bit, and every state slot must be restored."""
import io
import sys
from torch_harness import torch, load
module_path, trace_path = sys.argv[1:3]
cls, trace, roles, layers = load(module_path, trace_path)
total = trace.get("total_steps", len(trace["steps"]))

def fresh():
    return {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float32).reshape(p["shape"])) for p in trace["params"]}

def optimizer(params):
    return cls(params.items(), total_steps=total, role=lambda n, p: roles[n], layer=lambda n: layers[n])

def run(params, opt, steps):
    for s in steps:
        for n, v in s["grads"].items():
            params[n].grad = torch.tensor(v, dtype=torch.float32).reshape(params[n].shape)
        opt.step()

straight = fresh()
run(straight, optimizer(straight), trace["steps"])

first = fresh()
opt = optimizer(first)
run(first, opt, trace["steps"][:2])
buffer = io.BytesIO()
torch.save(opt.state_dict(), buffer)
buffer.seek(0)
second = {n: torch.nn.Parameter(p.detach().clone()) for n, p in first.items()}
resumed = optimizer(second)
resumed.load_state_dict(torch.load(buffer))
run(second, resumed, trace["steps"][2:])

same = all(torch.equal(straight[n], second[n]) for n in straight)
moved = all(not torch.equal(second[n], fresh()[n]) for n in straight)
print(f"resumed equals straight: {same}; every parameter moved: {moved}")
