#!/usr/bin/env bash
# Reproduces docs/experiments.md: learning-rate choice on a separate seed, then 3 seeds of
# each optimizer at its chosen rate, on the synthetic data and on character-level
# tinyshakespeare, and the NALR ablations. Every run: tiny model, 400 steps, equal tokens.
#   usage: bash docs/experiments/run.sh [stage]   (stage: lr | main | ablation | all)
# Runs land in runs/experiments/; finished runs are skipped, so the script resumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
OPT=.build/release/optlang
test -x "$OPT" || swift build -c release
TEXT=${TEXT:-../shared/data/tinyshakespeare.txt}
STEPS=${STEPS:-400}
COMMON=(--model tiny --steps "$STEPS" --eval-every 50 --log-every 10 --checkpoint-every 400 --quiet)
OUT=runs/experiments
stage=${1:-all}

data_flag() { if [ "$1" = text ]; then echo "--data $TEXT"; fi; }

run() {  # run DIR LR RECIPE [args...]: skipped when DIR holds a finished run with that lr
    local dir=$1 lr=$2 recipe=$3; shift 3
    if [ -f "$dir/metrics.jsonl" ] && grep -q "\"step\":$STEPS," "$dir/metrics.jsonl" \
        && python3 -c "import json,sys; sys.exit(abs(json.load(open('$dir/config.json'))['hyperparameters']['lr'] - $lr) > 1e-12)"; then
        return
    fi
    rm -rf "$dir"
    echo "run $dir"
    "$OPT" run "$recipe" "${COMMON[@]}" --out "$dir" --set lr="$lr" "$@"
}

declare -A RATES=(
    [adamw]="0.0001 0.0003 0.001 0.003 0.01" [muon]="0.01 0.02 0.05 0.1" [normuon]="0.01 0.02 0.05 0.1"
    [adago]="0.01 0.02 0.05 0.1 0.2 0.5" [nalr]="0.01 0.02 0.05 0.1"
)

if [ "$stage" = lr ] || [ "$stage" = all ]; then
    for data in synthetic text; do
        for opt in nalr muon normuon adago adamw; do
            for lr in ${RATES[$opt]}; do
                run "$OUT/lr/$data/$opt/lr=$lr" "$lr" "Recipes/$opt.opt" --seed 100 $(data_flag $data)
            done
        done
    done
fi

# The chosen rate per optimizer and data: lowest final validation loss on seed 100.
best_lr() {  # best_lr DATA OPT
    python3 - "$OUT/lr/$1/$2" <<'PY'
import json, os, sys
best = None
for d in sorted(os.listdir(sys.argv[1])):
    lines = [json.loads(l) for l in open(os.path.join(sys.argv[1], d, "metrics.jsonl"))]
    v = [l["val_loss"] for l in lines if "val_loss" in l][-1]
    if best is None or v < best[0]: best = (v, d.split("=")[1])
print(best[1])
PY
}

if [ "$stage" = main ] || [ "$stage" = all ]; then
    for data in synthetic text; do
        for opt in nalr muon normuon adago adamw; do
            lr=$(best_lr $data $opt)
            for seed in 1 2 3; do
                run "$OUT/main/$data/$opt/seed=$seed" "$lr" "Recipes/$opt.opt" --seed $seed $(data_flag $data)
            done
        done
    done
fi

if [ "$stage" = ablation ] || [ "$stage" = all ]; then
    for data in synthetic text; do
        lr=$(best_lr $data nalr)
        for variant in mean prevgrad; do
            for seed in 1 2 3; do
                run "$OUT/ablation/$data/nalr-$variant/seed=$seed" "$lr" "Recipes/ablations/nalr-$variant.opt" \
                    --seed $seed $(data_flag $data)
            done
        done
    done
fi
