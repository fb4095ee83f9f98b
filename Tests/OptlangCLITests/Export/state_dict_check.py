"""A PyTorch export's state_dict round trip: 2 steps, state_dict() through torch.save and
torch.load into a new optimizer over copies of the parameters, 3 more steps; the parameters
must equal 5 uninterrupted steps bit for bit, and every state slot must be restored."""
import importlib.util, io, json, sys
try:
    import torch
except ImportError:
    print("SKIPPED: torch cannot be imported")
    sys.exit(0)
module_path, trace_path = sys.argv[1:3]
spec = importlib.util.spec_from_file_location("exported", module_path)
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
cls = next(v for v in vars(m).values() if isinstance(v, type) and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer)
trace = json.load(open(trace_path))
roles = {p["name"]: p["role"] for p in trace["params"]}
layers = {p["name"]: p.get("layer") for p in trace["params"]}
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
