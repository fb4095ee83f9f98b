"""Independent float64 implementations of NALR and D-Muon, for replay tests.

Written from the formulas in shared/docs/ALGORITHMS.md and, for D-Muon, from
MoonshotAI/Moonlight examples/toy_train.py — never from the recipes. Nuclear norms come from
numpy's SVD, not from a Gram matrix; Newton-Schulz runs in float64.

usage: python3 references.py nalr|dmuon TRACE.json HYPERPARAMETERS.json RESULT.json
"""
import json
import math
import sys

import numpy as np

HIDDEN = ("attention", "mlp")
ENDS = ("embedding", "position", "head")


def newton_schulz5(g, steps=5):
    """Muon's quintic iteration on the wide orientation (KellerJordan/Muon)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x.T if tall else x


def schedule(hp, t, total):
    """linear warm-up times cosine decay over the whole run."""
    warm = min(1.0, t / max(hp["warmup"], 1.0))
    final = hp["decay_to"]
    cosine = final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(t, total) / max(total, 1)))
    return warm * cosine


def adam(x, g, st, t, lr, beta1, beta2, eps, wd):
    """torch.optim.AdamW: bias-corrected, eps outside the root, decoupled decay first."""
    m = st.setdefault("m", np.zeros_like(x))
    v = st.setdefault("v", np.zeros_like(x))
    x *= 1 - lr * wd
    m[:] = beta1 * m + (1 - beta1) * g
    v[:] = beta2 * v + (1 - beta2) * g * g
    x -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)


def nalr_step(params, grads, state, t, total, hp):
    """NALR's practical option: noise from the previous step's gradient, rates by the group max."""
    sched = schedule(hp, t, total)
    for roles, rate in ((HIDDEN, hp["lr"]), (ENDS, hp["sign_lr"])):
        names = [n for n, p in params.items() if p["role"] in roles and (roles == ENDS or p["x"].ndim == 2)]
        alphas = {}
        for n in names:
            p, g, st = params[n], grads[n], state.setdefault(n, {})
            d_out, d_in = p["x"].shape
            prev = st.get("G_prev")
            if prev is not None:  # t = 1 has no previous gradient: H stays as it is
                diff = g - prev
                if roles == HIDDEN:
                    dual = math.sqrt(d_out / d_in) * np.linalg.svd(diff, compute_uv=False).sum()
                else:
                    dual = np.abs(diff).sum()
                st["H"] = hp["beta2"] * st.get("H", 0.0) + (1 - hp["beta2"]) * dual**2
            st["G_prev"] = g.copy()
            b = st.setdefault("B", np.zeros_like(g))
            b[:] = hp["beta1"] * b + (1 - hp["beta1"]) * g
            alphas[n] = 1 / math.sqrt(st.get("H", 0.0) + hp["eps"])
        top = max(alphas.values(), default=1.0)
        for n in names:
            p, b = params[n], state[n]["B"]
            eta = rate * sched * alphas[n] / top
            d_out, d_in = p["x"].shape
            lmo = math.sqrt(d_out / d_in) * newton_schulz5(b) if roles == HIDDEN else np.sign(b)
            p["x"] -= eta * lmo
    for n, p in params.items():
        if p["role"] not in ENDS and not (p["role"] in HIDDEN and p["x"].ndim == 2):
            adam(p["x"], grads[n], state.setdefault(n, {}), t, hp["adam_lr"] * sched, 0.9, 0.95, 1e-10, 0.0)


def dmuon_step(params, grads, state, t, total, hp):
    """Moonlight toy_train.py's Muon: sum-form Nesterov momentum, 0.2·sqrt(max(A, B)) scale,
    and its own AdamW (eps added to sqrt(v), bias corrections folded into the step)."""
    sched = schedule(hp, t, total)
    for n, p in params.items():
        x, g, st = p["x"], grads[n], state.setdefault(n, {})
        if p["role"] in HIDDEN and x.ndim == 2:
            lr = hp["lr"] * sched
            buf = st.setdefault("momentum_buffer", np.zeros_like(g))
            buf[:] = hp["mu"] * buf + g
            u = newton_schulz5(g + hp["mu"] * buf)
            x *= 1 - lr * hp["wd"]
            x -= lr * 0.2 * math.sqrt(max(x.shape)) * u
        else:
            lr = hp["adam_lr"] * sched
            m = st.setdefault("moment1", np.zeros_like(g))
            v = st.setdefault("moment2", np.zeros_like(g))
            m[:] = m + (1 - hp["beta1"]) * (g - m)
            v[:] = v + (1 - hp["beta2"]) * (g * g - v)
            step = m / (hp["eps"] + np.sqrt(v))
            scale = (1 - hp["beta1"] ** t) / (1 - hp["beta2"] ** t) ** 0.5
            x *= 1 - lr * hp["wd"]
            x -= lr / scale * step


def main():
    which, trace_path, hyper_path, out_path = sys.argv[1:5]
    trace = json.load(open(trace_path))
    hp = json.load(open(hyper_path))
    step = {"nalr": nalr_step, "dmuon": dmuon_step}[which]
    params = {
        p["name"]: {"role": p["role"], "x": np.array(p["values"], dtype=np.float64).reshape(p["shape"])}
        for p in trace["params"]
    }
    total = trace.get("total_steps", len(trace["steps"]))
    state = {}
    for t, s in enumerate(trace["steps"], 1):
        grads = {n: np.array(v, dtype=np.float64).reshape(params[n]["x"].shape) for n, v in s["grads"].items()}
        step(params, grads, state, t, total, hp)
    result = {"params": [{"name": n, "values": p["x"].reshape(-1).tolist()} for n, p in params.items()]}
    json.dump(result, open(out_path, "w"))


if __name__ == "__main__":
    main()
