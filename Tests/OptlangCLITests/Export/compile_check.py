"""torch.compile of an exported optimizer's step: the compiled step must follow the eager one
(5 steps, within 1e-6 relative) on the same trace."""
import sys
from torch_harness import torch, load
module_path, trace_path = sys.argv[1:3]
cls, trace, roles, layers = load(module_path, trace_path)


def build():
    return {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float32).reshape(p["shape"])) for p in trace["params"]}


eager, compiled = build(), build()
make = lambda params: cls(params.items(), total_steps=5, role=lambda n, p: roles[n], layer=lambda n: layers[n])
eager_opt, compiled_opt = make(eager), make(compiled)
compiled_step = torch.compile(compiled_opt.step)
for s in trace["steps"]:
    for params in (eager, compiled):
        for n, v in s["grads"].items():
            params[n].grad = torch.tensor(v, dtype=torch.float32).reshape(params[n].shape)
    eager_opt.step()
    compiled_step()
same = all(torch.allclose(compiled[n], eager[n], rtol=1e-6, atol=1e-7) for n in eager)
print(f"compiled step equals eager: {same}")
