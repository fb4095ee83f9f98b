"""Choices for docs/experiments/run.sh, read from finished run folders (config.json and
metrics.jsonl, docs/runs.md).

  pick.py best NAME DIR...      the value of hyperparameter NAME in the run with the lowest
                                final validation loss under the DIRs
  pick.py extend NAME F DIR...  the next value of NAME to try when the best run's is at an edge
                                of those tried (the smallest over F or the largest times F), or
                                nothing
  pick.py same DIR NAME=V...    exit status 0 when every run under DIR has those values
  pick.py grid VALUES LR        a second-rate grid: VALUES is comma-separated, `xF` meaning F·LR
"""
import json
import math
import os
import sys


def runs(dirs):
    """(hyperparameters, final validation loss) of every run folder under dirs."""
    out = []
    for top in dirs:
        for root, _, files in os.walk(top):
            if "config.json" in files and "metrics.jsonl" in files:
                hyper = json.load(open(os.path.join(root, "config.json")))["hyperparameters"]
                final = math.inf
                finished = False
                steps = json.load(open(os.path.join(root, "config.json")))["options"]["steps"]
                for line in open(os.path.join(root, "metrics.jsonl")):
                    point = json.loads(line)
                    if "val_loss" in point:
                        final = point["val_loss"] if math.isfinite(point["val_loss"]) else math.inf
                    finished = finished or point.get("step") == steps
                out.append((hyper, final if finished else math.inf))
    if not out:
        sys.exit(f"pick.py: no runs under {' '.join(dirs)}")
    return out


def number(x):
    """x with six significant digits, as a grid value and a folder name."""
    return f"{float(x):.6g}"


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "best":
        name, dirs = args[0], args[1:]
        hyper, _ = min(runs(dirs), key=lambda r: r[1])
        print(number(hyper[name]))
    elif verb == "extend":
        name, factor, dirs = args[0], float(args[1]), args[2:]
        found = runs(dirs)
        tried = sorted({h[name] for h, _ in found})
        best = min(found, key=lambda r: r[1])[0][name]
        if best == tried[0]:
            print(number(tried[0] / factor))
        elif best == tried[-1]:
            print(number(tried[-1] * factor))
    elif verb == "same":
        wanted = {k: float(v) for k, v in (a.split("=", 1) for a in args[1:])}
        found = runs([args[0]])
        sys.exit(0 if all(math.isclose(h[k], v, rel_tol=1e-9) for h, _ in found for k, v in wanted.items()) else 1)
    elif verb == "grid":
        values, lr = args[0].split(","), float(args[1])
        print(",".join(number(float(v[1:]) * lr) if v.startswith("x") else v for v in values))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
