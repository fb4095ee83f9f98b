"""Times an exported PyTorch optimizer's step against torch's own, on one model's parameters.

usage: python3 bench_torch.py ADAMW_EXPORT.py MUON_EXPORT.py [--model tiny|small] [--rounds N]

Builds the parameters of optlang's `tiny` or `small` GPT (the trainer's names and shapes, a
65-character vocabulary) on the CPU with fixed random gradients, then times, alternating
round by round, best of N rounds of 20 steps each:
  - the exported AdamW against torch.optim.AdamW(foreach=True) with the same hyperparameters;
  - the exported Muon against a hand-written Muon (Newton–Schulz 5, as KellerJordan/Muon) on
    the hidden matrices plus torch.optim.AdamW(foreach=True) on the rest.
Prints one line per pair with milliseconds per step and the ratio exported / torch; the last
line is JSON. Issue 13's goals: AdamW ≤ 1.2, Muon ≤ 1.0.
"""
import argparse, importlib.util, json, time

import torch

SIZES = {"tiny": (128, 4), "small": (256, 6)}


def named_parameters(model, vocab=65):
    d, layers = SIZES[model]
    shapes = [("wte.weight", (vocab, d)), ("wpe.weight", (256 if model == "small" else 128, d))]
    for i in range(layers):
        for p in ("q", "k", "v", "o"):
            shapes.append((f"blocks.{i}.attn.{p}_proj.weight", (d, d)))
        shapes.append((f"blocks.{i}.mlp.fc.weight", (4 * d, d)))
        shapes.append((f"blocks.{i}.mlp.proj.weight", (d, 4 * d)))
        shapes.append((f"blocks.{i}.ln1.weight", (d,)))
        shapes.append((f"blocks.{i}.ln2.weight", (d,)))
    shapes += [("ln_f.weight", (d,)), ("lm_head.weight", (vocab, d))]
    g = torch.Generator().manual_seed(0)
    params = [(n, torch.nn.Parameter(torch.randn(s, generator=g) * 0.02)) for n, s in shapes]
    for _, p in params:
        p.grad = torch.randn(p.shape, generator=g) * 0.01
    return params


def load(path):
    spec = importlib.util.spec_from_file_location("exported", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return next(v for v in vars(m).values()
                if isinstance(v, type) and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer)


def newton_schulz(g, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / (x.norm() + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if g.shape[0] > g.shape[1] else x


class HandMuon:
    """Muon as muon.py writes it (momentum 0.95 as a lerp, Nesterov, Newton–Schulz 5, scale
    √max(1, rows/cols)) on the hidden matrices, torch.optim.AdamW(foreach=True) with
    muon.opt's auxiliary settings on the rest: the pair muon.opt describes."""

    def __init__(self, named, lr=0.02, beta=0.95, adam_lr=3e-4):
        hidden = lambda n, p: p.dim() == 2 and ("attn" in n or "mlp" in n)
        self.hidden = [p for n, p in named if hidden(n, p)]
        rest = [p for n, p in named if not hidden(n, p)]
        self.buf = [torch.zeros_like(p) for p in self.hidden]
        self.lr, self.beta = lr, beta
        self.adam = torch.optim.AdamW(rest, lr=adam_lr, betas=(0.9, 0.95), eps=1e-10, weight_decay=0, foreach=True)

    @torch.no_grad()
    def step(self):
        grads = [p.grad for p in self.hidden]
        torch._foreach_lerp_(self.buf, grads, 1 - self.beta)
        updates = torch._foreach_lerp(grads, self.buf, self.beta)
        for p, u in zip(self.hidden, updates):
            p.add_(newton_schulz(u), alpha=-self.lr * max(1.0, p.shape[0] / p.shape[1]) ** 0.5)
        self.adam.step()


def best_ms(step, rounds, steps=20):
    step()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - t0) / steps * 1e3)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("adamw")
    ap.add_argument("muon")
    ap.add_argument("--model", default="small", choices=SIZES)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    results = {"model": args.model, "threads": torch.get_num_threads(), "torch": torch.__version__}
    pairs = [
        ("adamw", lambda named: load(args.adamw)(named, total_steps=10**6),
         lambda named: torch.optim.AdamW([p for _, p in named], lr=1e-3, foreach=True)),
        ("muon", lambda named: load(args.muon)(named, total_steps=10**6), lambda named: HandMuon(named)),
    ]
    for name, exported, reference in pairs:
        a, b = exported(named_parameters(args.model)), reference(named_parameters(args.model))
        times = {"exported": float("inf"), "torch": float("inf")}
        for _ in range(args.rounds):  # alternate, so both see the same machine
            times["exported"] = min(times["exported"], best_ms(a.step, 1))
            times["torch"] = min(times["torch"], best_ms(b.step, 1))
        ratio = times["exported"] / times["torch"]
        print(f"{name} on {args.model}: exported {times['exported']:.2f} ms, torch {times['torch']:.2f} ms, ratio {ratio:.2f}")
        results[name] = {"exported_ms": times["exported"], "torch_ms": times["torch"], "ratio": ratio}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
