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
#      the best is at its edge, three times at most);
#   2. the second rate (NALR's sign_lr, adam_lr of the Muon family and D-Muon) on a coarse
#      grid at the best learning rate, seed 1 (extended by a factor of 3 at an edge, three
#      times at most);
#   3. seeds 2 and 3 at the best pair (seed 1 is the tuning run).
# On gpt, step 2 is skipped: the second rates are llama's, fixed from step 1 on.
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
# NALR's and NorMuon's second-rate grids reach 0.009 (and 0.027) up front: in a first pass
# Muon's and AdaGO's AdamW side kept improving up to 0.027 through the edge extensions,
# while NorMuon's single seed at 0.003 happened to be worse than at 0.001.
OPTIMIZERS=(
    "nalr|Recipes/nalr.opt|0.02,0.04,0.08,0.16|sign_lr|0.001,0.003,0.009"
    "dmuon|Recipes/dmuon.opt|0.004,0.008,0.016,0.032|adam_lr|x0.33,x3,x10"
    "muon|Recipes/muon.opt|0.01,0.02,0.04,0.08|adam_lr|0.001,0.003"
    "normuon|Recipes/normuon.opt|0.01,0.02,0.04,0.08|adam_lr|0.001,0.003,0.009,0.027"
    "adago|Recipes/adago.opt|0.05,0.1,0.2,0.4|adam_lr|0.001,0.003"
    "adamw|Recipes/adamw.opt|0.001,0.002,0.004,0.008||"
)
ABLATIONS=(
    "nalr-momentum|Recipes/ablations/nalr-momentum.opt|0.02,0.04,0.08,0.16||"
    "nalr-mean|Recipes/ablations/nalr-mean.opt|0.005,0.01,0.02,0.04||"
    "nalr-none|Recipes/ablations/nalr-none.opt|0.001,0.003,0.01,0.03|sign_lr|0.00003,0.003"
    "nalr-dmuon|Recipes/ablations/nalr-dmuon.opt|0.002,0.004,0.008,0.016||"
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
    if [ -n "$second" ] && [ -n "${SECOND_FROM:-}" ]; then
        # The second rate as tuned on another architecture: fixed from the first step on.
        local from=$OUT/$SECOND_FROM/$name
        set -- "$@" --set "$second=$($PICK best "$second" "$from"/lr* "$from/$second"*)"
        second=""
    fi
    sweep "$dir/lr" "$recipe" "$arch" --grid lr="$rates" --seeds 1 "$@"
    extend "$dir" lr 2 "$recipe" "$arch" "$@"
    local lr
    lr=$($PICK best lr "$dir"/lr*)
    local sets=(--set lr="$lr")
    if [ -n "$second" ]; then
        local grid
        grid=$($PICK grid "$seconds" "$lr")
        sweep "$dir/$second" "$recipe" "$arch" --grid "$second=$grid" --seeds 1 --set lr="$lr" "$@"
        extend "$dir" "$second" 3 "$recipe" "$arch" --set lr="$lr" "$@"
        sets+=(--set "$second=$($PICK best "$second" "$dir"/lr* "$dir/$second"*)")
    fi
    # Seeds run at the chosen pair; a resumed script whose choice moved starts them anew.
    local values=()
    for value in "${sets[@]}"; do [ "$value" = --set ] || values+=("$value"); done
    if [ -d "$dir/seeds" ] && ! $PICK same "$dir/seeds" "${values[@]}"; then
        rm -rf "$dir/seeds"
    fi
    sweep "$dir/seeds" "$recipe" "$arch" --grid lr="$lr" --seeds 2,3 "${sets[@]:2}" "$@"
}

extend() {  # extend DIR NAME FACTOR RECIPE ARCH [sweep options...]: grid edges, three times at most
    local dir=$1 name=$2 factor=$3 recipe=$4 arch=$5
    shift 5
    for extension in 1 2 3; do
        local more
        if [ "$name" = lr ]; then
            more=$($PICK extend lr "$factor" "$dir"/lr*)
        else
            more=$($PICK extend "$name" "$factor" "$dir"/lr* "$dir/$name"*)
        fi
        [ -z "$more" ] && break
        sweep "$dir/$name-$extension" "$recipe" "$arch" --grid "$name=$more" --seeds 1 "$@"
    done
}

if [ "$stage" = all ] || [ "$stage" = llama ]; then
    for entry in "${OPTIMIZERS[@]}"; do tune llama "$entry"; done
fi
if [ "$stage" = all ] || [ "$stage" = ablations ]; then
    # NALR's sign_lr stays at its tuned value, unless the variant tunes its own.
    sign=$($PICK best sign_lr "$OUT/llama/nalr/lr"* "$OUT/llama/nalr/sign_lr"*)
    for entry in "${ABLATIONS[@]}"; do
        if [[ $entry == nalr-none* ]]; then tune llama "$entry"; else tune llama "$entry" --set sign_lr="$sign"; fi
    done
fi
if [ "$stage" = all ] || [ "$stage" = gpt ]; then
    # To fit the time: the second rates stay at llama's tuned values.
    for entry in "${OPTIMIZERS[@]}"; do SECOND_FROM=llama tune gpt "$entry"; done
fi
if [ "$stage" = all ] || [ "$stage" = report ]; then
    python3 docs/experiments/report.py "$OUT" docs/experiments
fi
