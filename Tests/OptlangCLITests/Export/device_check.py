"""An exported PyTorch optimizer on devices and dtypes other than CPU float32.

- Parameters and gradients on the `meta` device: two steps must run. Meta tensors have no
  values, so `.item()`, `float(t)`, `bool(t)` and `.tolist()` raise: a step that synchronises
  with the host fails here, and so does state left on another device.
- `load_state_dict` of a CPU optimizer's state into one over meta parameters puts every state
  tensor on the parameter's device.
- bfloat16 parameters are updated in bfloat16; tensor state is float32 (per-layer values
  float64), whatever the parameter's dtype.
"""
import sys
from torch_harness import torch, load
module_path, trace_path = sys.argv[1:3]
cls, trace, roles, layers = load(module_path, trace_path)

def optimizer(params):
    return cls(params.items(), total_steps=5, role=lambda n, p: roles[n], layer=lambda n: layers[n])

def build(device, dtype):
    return {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=dtype).reshape(p["shape"]).to(device)) for p in trace["params"]}

def grads(params, t):
    for n, p in params.items():
        p.grad = torch.tensor(trace["steps"][t]["grads"][n], dtype=p.dtype).reshape(p.shape).to(p.device)

def tensors(opt):
    return [v for s in opt.slots.values() for v in s.values() if torch.is_tensor(v)]

meta = build("meta", torch.float32)
opt = optimizer(meta)
for t in range(2):
    grads(meta, t)
    opt.step()
print("meta steps: ok")
print(f"state on the parameters' device: {all(v.device.type == 'meta' for v in tensors(opt))}")

cpu = build("cpu", torch.float32)
source = optimizer(cpu)
grads(cpu, 0)
source.step()
target = optimizer(build("meta", torch.float32))
target.load_state_dict(source.state_dict())
print(f"loaded state on the parameters' device: {all(v.device.type == 'meta' for v in tensors(target))}")

half = build("cpu", torch.bfloat16)
before = {n: p.detach().clone() for n, p in half.items()}
opt = optimizer(half)
for t in range(2):
    grads(half, t)
    opt.step()
kept = all(p.dtype == torch.bfloat16 for p in half.values())
moved = any(not torch.equal(p, before[n]) for n, p in half.items())
state32 = all(v.dtype == (torch.float64 if v.dim() == 0 else torch.float32) for v in tensors(opt))
print(f"bfloat16 parameters updated in bfloat16: {kept and moved}; state float32: {state32}")
