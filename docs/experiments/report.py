"""The figures and tables of docs/experiments.md, from the runs of docs/experiments/run.sh.

usage: python3 docs/experiments/report.py RUNS_DIR DOCS_DIR [OPTLANG]

For each architecture: `optlang compare` of every optimizer at its tuned rates (3 seeds) with
its plots as SVG files, the tuning tables, the learning-rate robustness plot, and the tokens
and wall-clock time NALR and D-Muon take to reach each other's final loss; the same for the
ablations (on llama).
"""
import json
import math
import os
import subprocess
import sys

OPTIMIZERS = ["nalr", "dmuon", "muon", "normuon", "adago", "adamw"]
ABLATIONS = ["nalr", "nalr-momentum", "nalr-mean", "nalr-none", "nalr-dmuon"]
SECOND = {"nalr": "sign_lr", "dmuon": "adam_lr", "muon": "adam_lr", "normuon": "adam_lr", "adago": "adam_lr",
          "nalr-none": "sign_lr"}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#7f7f7f", "#17becf", "#8c564b"]


def run_folders(top):
    for root, _, files in os.walk(top):
        if "config.json" in files and "metrics.jsonl" in files:
            yield root


def load(folder):
    config = json.load(open(os.path.join(folder, "config.json")))
    points = [json.loads(line) for line in open(os.path.join(folder, "metrics.jsonl"))]
    evals = [p for p in points if "val_loss" in p]
    steps = config["options"]["steps"]
    finished = any(p.get("step") == steps for p in points)
    final = evals[-1]["val_loss"] if evals and finished and math.isfinite(evals[-1]["val_loss"]) else math.inf
    return {"folder": folder, "hyper": config["hyperparameters"], "seed": config["seed"], "final": final,
            "evals": evals, "points": points}


def tuning(runs_dir, arch, name):
    """Seed-1 runs of the tuning sweeps: the learning-rate grid (extensions included) and the
    second-rate grid; and the chosen run."""
    base = os.path.join(runs_dir, arch, name)
    lr_runs, second_runs = [], []
    for sub in sorted(os.listdir(base)):
        runs = [load(f) for f in run_folders(os.path.join(base, sub))]
        if sub.startswith("lr"):
            lr_runs += runs
        elif sub != "seeds":
            second_runs += runs
    best = min(lr_runs + second_runs, key=lambda r: r["final"])
    return lr_runs, second_runs, best


def fmt(x):
    return "diverged" if not math.isfinite(x) else f"{x:.4f}"


def number(x):
    return f"{x:g}"


def tuning_table(runs_dir, arch, names):
    lines = ["| optimizer | learning rate: final validation loss (seed 1) | second rate: final validation loss |",
             "|---|---|---|"]
    for name in names:
        lr_runs, second_runs, best = tuning(runs_dir, arch, name)
        best_lr = min(lr_runs, key=lambda r: r["final"])
        lrs = "; ".join(
            ("**" if r is best_lr else "") + f"{number(r['hyper']['lr'])}: {fmt(r['final'])}" + ("**" if r is best_lr else "")
            for r in sorted(lr_runs, key=lambda r: r["hyper"]["lr"]))
        second = SECOND.get(name)
        seconds = ""
        if second and second_runs:
            chosen_lr = [r for r in lr_runs if r["hyper"]["lr"] == best["hyper"]["lr"]]
            candidates = sorted(chosen_lr + second_runs, key=lambda r: r["hyper"][second])
            seconds = f"{second} " + "; ".join(
                ("**" if r is best else "") + f"{number(r['hyper'][second])}: {fmt(r['final'])}" + ("**" if r is best else "")
                for r in candidates)
        elif second:
            seconds = f"{second} {number(best['hyper'][second])}, fixed (tuned on llama)"
        lines.append(f"| {name} | {lrs} | {seconds} |")
    return "\n".join(lines) + "\n"


def chosen(runs_dir, arch, name):
    """The chosen seed-1 run and the seeds sweep folder of one optimizer."""
    return [tuning(runs_dir, arch, name)[2]["folder"], os.path.join(runs_dir, arch, name, "seeds")]


def seeds(runs_dir, arch, name):
    best = tuning(runs_dir, arch, name)[2]
    return [best] + [load(f) for f in run_folders(os.path.join(runs_dir, arch, name, "seeds"))]


def to_target(runs, target):
    """Mean over seeds of (tokens, elapsed seconds) at the first evaluation at or below
    target, and how many seeds get there."""
    hits = []
    for r in runs:
        for p in r["evals"]:
            if p["val_loss"] <= target:
                hits.append((p["tokens"], p["elapsed_s"]))
                break
    if not hits:
        return None, 0
    return (sum(h[0] for h in hits) / len(hits), sum(h[1] for h in hits) / len(hits)), len(hits)


def mean(xs):
    return sum(xs) / len(xs)


def targets_table(runs_dir, arch):
    nalr = seeds(runs_dir, arch, "nalr")
    dmuon = seeds(runs_dir, arch, "dmuon")
    lines = ["| target | reached by | NALR tokens | NALR seconds | D-Muon tokens | D-Muon seconds | tokens D-Muon/NALR | seconds D-Muon/NALR |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, target in (("D-Muon's final", mean([r["final"] for r in dmuon])),
                          ("NALR's final", mean([r["final"] for r in nalr]))):
        a, na = to_target(nalr, target)
        b, nb = to_target(dmuon, target)
        cells = [f"{label} {target:.4f}", f"NALR {na}/3, D-Muon {nb}/3"]
        cells += [f"{a[0]:,.0f}", f"{a[1]:.1f}"] if a else ["—", "—"]
        cells += [f"{b[0]:,.0f}", f"{b[1]:.1f}"] if b else ["—", "—"]
        cells += [f"{b[0] / a[0]:.2f}", f"{b[1] / a[1]:.2f}"] if a and b else ["—", "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def robustness_svg(runs_dir, arch, names, path):
    """Final validation loss against the learning rate relative to each optimizer's best."""
    series = []
    for name in names:
        lr_runs, _, best = tuning(runs_dir, arch, name)
        best_lr = min(lr_runs, key=lambda r: r["final"])["hyper"]["lr"]
        pts = sorted((math.log2(r["hyper"]["lr"] / best_lr), r["final"]) for r in lr_runs)
        series.append((name, best_lr, pts))
    finite = [y for _, _, pts in series for _, y in pts if math.isfinite(y)]
    xs = [x for _, _, pts in series for x, _ in pts]
    x0, x1 = min(xs) - 0.3, max(xs) + 0.3
    y0 = min(finite) - 0.02
    y1 = min(max(finite), y0 + 3 * (sorted(finite)[len(finite) // 2] - y0) + 0.05) + 0.02
    w, h, left, right, top, bottom = 700, 380, 60, 230, 20, 50
    def sx(x): return left + (x - x0) / (x1 - x0) * (w - left - right)
    def sy(y): return top + (y1 - min(y, y1)) / (y1 - y0) * (h - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>']
    for k in range(math.ceil(x0), math.floor(x1) + 1):
        label = f"{2 ** k:g}×"
        out.append(f'<line x1="{sx(k):.1f}" y1="{h - bottom}" x2="{sx(k):.1f}" y2="{h - bottom + 5}" stroke="black"/>')
        out.append(f'<text x="{sx(k):.1f}" y="{h - bottom + 18}" text-anchor="middle">{label}</text>')
    steps = 6
    for i in range(steps + 1):
        y = y0 + (y1 - y0) * i / steps
        out.append(f'<line x1="{left - 5}" y1="{sy(y):.1f}" x2="{left}" y2="{sy(y):.1f}" stroke="black"/>')
        out.append(f'<text x="{left - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 10}" text-anchor="middle">learning rate / the optimizer\'s best rate</text>')
    out.append(f'<text x="14" y="{(top + h - bottom) / 2}" transform="rotate(-90 14 {(top + h - bottom) / 2})" text-anchor="middle">final validation loss</text>')
    for i, (name, best_lr, pts) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        d = " ".join(f"{'M' if j == 0 else 'L'}{sx(x):.1f},{sy(y if math.isfinite(y) else y1):.1f}" for j, (x, y) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in pts:
            # Points above the plotted range (or diverged) sit on its top edge, hollow.
            fill = color if y <= y1 else "white"
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(min(y, y1)):.1f}" r="3" fill="{fill}" stroke="{color}"/>')
        ly = top + 16 * i + 10
        out.append(f'<line x1="{w - right + 10}" y1="{ly}" x2="{w - right + 30}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{w - right + 35}" y="{ly + 4}">{name} (best {best_lr:g})</text>')
    out.append(f'<text x="{w - right + 10}" y="{top + 16 * len(series) + 24}" font-size="11">hollow: above the range shown</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def compare(optlang, folders, docs_dir, name):
    svg_dir = os.path.join(docs_dir, name)
    os.makedirs(svg_dir, exist_ok=True)
    html = os.path.join(svg_dir, "report.html")
    subprocess.run([optlang, "compare", *folders, "--out", html, "--markdown", os.path.join(docs_dir, f"{name}.md"),
                    "--svg-dir", svg_dir], check=True, stdout=subprocess.DEVNULL)
    os.remove(html)


def main():
    runs_dir, docs_dir = sys.argv[1], sys.argv[2]
    optlang = sys.argv[3] if len(sys.argv) > 3 else ".build/release/optlang"
    for arch in ("llama", "gpt"):
        if not os.path.isdir(os.path.join(runs_dir, arch)):
            continue
        names = [n for n in OPTIMIZERS if os.path.isdir(os.path.join(runs_dir, arch, n, "seeds"))]
        folders = [f for n in names for f in chosen(runs_dir, arch, n)]
        compare(optlang, folders, docs_dir, arch)
        with open(os.path.join(docs_dir, f"{arch}-tuning.md"), "w") as out:
            out.write(tuning_table(runs_dir, arch, names))
        robustness_svg(runs_dir, arch, names, os.path.join(docs_dir, arch, "lr-robustness.svg"))
        if "nalr" in names and "dmuon" in names:
            with open(os.path.join(docs_dir, f"{arch}-targets.md"), "w") as out:
                out.write(targets_table(runs_dir, arch))
    ablations = [n for n in ABLATIONS if os.path.isdir(os.path.join(runs_dir, "llama", n, "seeds"))]
    if len(ablations) > 1:
        folders = [f for n in ablations for f in chosen(runs_dir, "llama", n)]
        compare(optlang, folders, docs_dir, "ablations")
        with open(os.path.join(docs_dir, "ablations-tuning.md"), "w") as out:
            out.write(tuning_table(runs_dir, "llama", ablations))
        robustness_svg(runs_dir, "llama", ablations, os.path.join(docs_dir, "ablations", "lr-robustness.svg"))


if __name__ == "__main__":
    main()
