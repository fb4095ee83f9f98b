"""A learning-rate scheduler that changes param_groups[0]["lr"] changes the exported step:
LambdaLR scaling lr by 0.5 must give the same parameters, bit for bit, as an optimizer
built with lr = 0.5 × the default, and different ones from the default."""
import sys
from torch_harness import torch, load
module_path, trace_path = sys.argv[1:3]
cls, trace, roles, layers = load(module_path, trace_path)


def run(scheduled, **hyperparameters):
    params = {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float32).reshape(p["shape"])) for p in trace["params"]}
    opt = cls(params.items(), total_steps=5, role=lambda n, p: roles[n], layer=lambda n: layers[n], **hyperparameters)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5) if scheduled else None
    for s in trace["steps"]:
        for n, v in s["grads"].items():
            params[n].grad = torch.tensor(v, dtype=torch.float32).reshape(params[n].shape)
        opt.step()
        if scheduler:
            scheduler.step()
    return params, opt


scheduled, opt = run(True)
halved, _ = run(False, lr=0.5 * opt.param_groups[0]["initial_lr"])
default, _ = run(False)
same = all(torch.equal(scheduled[n], halved[n]) for n in scheduled)
changed = any(not torch.equal(scheduled[n], default[n]) for n in scheduled)
print(f"scheduler sets the rate: {same and changed}")
