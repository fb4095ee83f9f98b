"""torch.optim itself as the reference for the recipes under Recipes/torch/.

usage: torch_optim.py NAME TRACE.json HYPER.json OUT.json

Builds torch.optim.<NAME> over the trace's parameters in float64, with torch's own defaults
except where HYPER.json (the recipe's hyperparameter names) sets a value, which is passed
under torch's name for it; then steps through the trace's gradients and writes the
parameters. Nothing here is derived from the recipes: only the names are mapped."""
import inspect, json, sys

try:
    import torch
except ImportError:
    print("SKIPPED: torch cannot be imported")
    sys.exit(0)

# Per optimizer: the torch.optim class and each recipe hyperparameter's torch keyword
# ("betas.0" / "betas.1" are the two halves of torch's betas tuple).
OPTIMIZERS = {
    "adam": (torch.optim.Adam, {"lr": "lr", "beta1": "betas.0", "beta2": "betas.1", "eps": "eps", "wd": "weight_decay"}),
    "adamax": (torch.optim.Adamax, {"lr": "lr", "beta1": "betas.0", "beta2": "betas.1", "eps": "eps", "wd": "weight_decay"}),
    "nadam": (torch.optim.NAdam, {"lr": "lr", "beta1": "betas.0", "beta2": "betas.1", "eps": "eps", "wd": "weight_decay",
                                  "psi": "momentum_decay"}),
    "radam": (torch.optim.RAdam, {"lr": "lr", "beta1": "betas.0", "beta2": "betas.1", "eps": "eps", "wd": "weight_decay"}),
    "adagrad": (torch.optim.Adagrad, {"lr": "lr", "lr_decay": "lr_decay", "wd": "weight_decay",
                                      "a0": "initial_accumulator_value", "eps": "eps"}),
    "rmsprop": (torch.optim.RMSprop, {"lr": "lr", "alpha": "alpha", "eps": "eps", "wd": "weight_decay", "mu": "momentum",
                                      "centered": "centered"}),
    "adadelta": (torch.optim.Adadelta, {"lr": "lr", "rho": "rho", "eps": "eps", "wd": "weight_decay"}),
}


def main():
    name, trace_path, hyper_path, out_path = sys.argv[1:5]
    torch.set_default_dtype(torch.float64)  # torch's scalar state (NAdam's mu_product) too
    cls, names = OPTIMIZERS[name]
    kwargs, betas = {}, {}
    for key, value in json.load(open(hyper_path)).items():
        torch_name = names[key]  # a KeyError names a hyperparameter without a torch counterpart
        if torch_name.startswith("betas."):
            betas[int(torch_name[-1])] = value
        else:
            kwargs[torch_name] = bool(value) if torch_name == "centered" else value
    if betas:
        torch_betas = inspect.signature(cls.__init__).parameters["betas"].default  # where only one is set
        kwargs["betas"] = (betas.get(0, torch_betas[0]), betas.get(1, torch_betas[1]))
    trace = json.load(open(trace_path))
    params = {p["name"]: torch.nn.Parameter(torch.tensor(p["values"], dtype=torch.float64).reshape(p["shape"]))
              for p in trace["params"]}
    opt = cls(list(params.values()), foreach=False, **kwargs)
    for s in trace["steps"]:
        for n, p in params.items():
            p.grad = torch.tensor(s["grads"][n], dtype=torch.float64).reshape(p.shape)
        opt.step()
    json.dump({"params": [{"name": n, "values": p.detach().reshape(-1).tolist()} for n, p in params.items()]},
              open(out_path, "w"))


if __name__ == "__main__":
    main()
