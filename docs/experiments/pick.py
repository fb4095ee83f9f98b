"""Choices for docs/experiments/run.sh, read from finished run folders (config.json and
metrics.jsonl, docs/runs.md).

  pick.py best NAME DIR...      the value of hyperparameter NAME in the run with the lowest
                                final validation loss under the DIRs
  pick.py extend DIR...         the next learning rate to try when the best is at an edge of
                                those tried (half the smallest or twice the largest), or nothing
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
    return repr(float(x)).rstrip("0").rstrip(".") if "e" not in repr(float(x)) else repr(float(x))


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "best":
        name, dirs = args[0], args[1:]
        hyper, _ = min(runs(dirs), key=lambda r: r[1])
        print(number(hyper[name]))
    elif verb == "extend":
        found = runs(args)
        tried = sorted({h["lr"] for h, _ in found})
        best = min(found, key=lambda r: r[1])[0]["lr"]
        if best == tried[0]:
            print(number(tried[0] / 2))
        elif best == tried[-1]:
            print(number(tried[-1] * 2))
    elif verb == "grid":
        values, lr = args[0].split(","), float(args[1])
        print(",".join(number(float(v[1:]) * lr) if v.startswith("x") else v for v in values))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
