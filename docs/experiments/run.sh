#!/usr/bin/env bash
# Reproduces docs/experiments.md: NALR against D-Muon (the paper's baseline), Muon, NorMuon,
# AdaGO and AdamW on `llama` and then `gpt`, all with the same warm-up + cosine schedule, and
# the NALR ablations. Built on `optlang sweep`, so the same command resumes: finished runs
# are skipped and interrupted ones continue.
#
#   usage: bash docs/experiments/run.sh [all | llama | gpt | ablations | report]
#
# For each architecture and optimizer:
#   1. the learning rate on a grid of 4 values, seed 1 (a grid extended by one value when
#      the best is at its edge, twice at most);
#   2. the second rate (NALR's sign_lr, adam_lr of the Muon family and D-Muon) on a coarse
#      grid at the best learning rate, seed 1;
#   3. seeds 2 and 3 at the best pair (seed 1 is the tuning run).
# Every run: the `tiny` model (d 128, 4 layers, context 128, batch 16), STEPS steps of
# character-level tinyshakespeare, warm-up over WARMUP steps, cosine to 0.1 of every rate.
set -euo pipefail
cd "$(dirname "$0")/../.."
OPT=${OPT:-.build/release/optlang}
test -x "$OPT" || swift build -c release
TEXT=${TEXT:-../shared/data/tinyshakespeare.txt}
MODEL=${MODEL:-tiny}
STEPS=${STEPS:-500}
WARMUP=${WARMUP:-50}
OUT=${OUT:-runs/experiments}
PICK="python3 docs/experiments/pick.py"
COMMON=(--steps "$STEPS" --data "$TEXT" --eval-every 50 --eval-windows 128 --log-every 10
    --checkpoint-every "$STEPS" --set warmup="$WARMUP" --set decay_to=0.1)
stage=${1:-all}

# name|recipe|learning-rate grid|second rate|its grid (besides the recipe's default)
OPTIMIZERS=(
    "nalr|Recipes/nalr.opt|0.02,0.04,0.08,0.16|sign_lr|0.001,0.003"
    "dmuon|Recipes/dmuon.opt|0.001,0.002,0.004,0.008|adam_lr|x0.33,x3"
    "muon|Recipes/muon.opt|0.01,0.02,0.04,0.08|adam_lr|0.001,0.003"
    "normuon|Recipes/normuon.opt|0.01,0.02,0.04,0.08|adam_lr|0.001,0.003"
    "adago|Recipes/adago.opt|0.05,0.1,0.2,0.4|adam_lr|0.001,0.003"
    "adamw|Recipes/adamw.opt|0.001,0.002,0.004,0.008||"
)
ABLATIONS=(
    "nalr-momentum|Recipes/ablations/nalr-momentum.opt|0.02,0.04,0.08,0.16||"
    "nalr-mean|Recipes/ablations/nalr-mean.opt|0.005,0.01,0.02,0.04||"
    "nalr-none|Recipes/ablations/nalr-none.opt|0.001,0.003,0.01,0.03|sign_lr|0.00003,0.003"
    "nalr-dmuon|Recipes/ablations/nalr-dmuon.opt|0.001,0.002,0.004,0.008||"
)

sweep() {  # sweep DIR RECIPE ARCH [sweep options...]
    local dir=$1 recipe=$2 arch=$3
    shift 3
    echo "== $dir"
    # A run that diverges fails on its own; the sweep goes on, and so does this script.
    "$OPT" sweep "$recipe" --out "$dir" --model "$MODEL,arch=$arch" "${COMMON[@]}" "$@" ||
        echo "   (a run of $dir failed; its sweep.json says which)"
}

tune() {  # tune ARCH ENTRY [--set NAME=VALUE...]: the three steps above for one optimizer
    local arch=$1 entry=$2
    shift 2
    IFS='|' read -r name recipe rates second seconds <<<"$entry"
    local dir=$OUT/$arch/$name
    sweep "$dir/lr" "$recipe" "$arch" --grid lr="$rates" --seeds 1 "$@"
    local tried=("$dir/lr")
    for extension in 1 2; do
        local more
        more=$($PICK extend "${tried[@]}")
        [ -z "$more" ] && break
        sweep "$dir/lr-$extension" "$recipe" "$arch" --grid lr="$more" --seeds 1 "$@"
        tried+=("$dir/lr-$extension")
    done
    local lr
    lr=$($PICK best lr "$dir"/lr*)
    local sets=(--set lr="$lr")
    if [ -n "$second" ]; then
        local grid
        grid=$($PICK grid "$seconds" "$lr")
        sweep "$dir/$second" "$recipe" "$arch" --grid "$second=$grid" --seeds 1 --set lr="$lr" "$@"
        sets+=(--set "$second=$($PICK best "$second" "$dir"/lr* "$dir/$second")")
    fi
    sweep "$dir/seeds" "$recipe" "$arch" --grid lr="$lr" --seeds 2,3 "${sets[@]:2}" "$@"
}

if [ "$stage" = all ] || [ "$stage" = llama ]; then
    for entry in "${OPTIMIZERS[@]}"; do tune llama "$entry"; done
fi
if [ "$stage" = all ] || [ "$stage" = ablations ]; then
    # NALR's sign_lr stays at its tuned value, unless the variant tunes its own.
    sign=$($PICK best sign_lr "$OUT/llama/nalr/lr"* "$OUT/llama/nalr/sign_lr")
    for entry in "${ABLATIONS[@]}"; do
        if [[ $entry == nalr-none* ]]; then tune llama "$entry"; else tune llama "$entry" --set sign_lr="$sign"; fi
    done
fi
if [ "$stage" = all ] || [ "$stage" = gpt ]; then
    for entry in "${OPTIMIZERS[@]}"; do tune gpt "$entry"; done
fi
if [ "$stage" = all ] || [ "$stage" = report ]; then
    python3 docs/experiments/report.py "$OUT" docs/experiments
fi
