#!/usr/bin/env bash
# The paper's Kodak experiment (issue 17's protocol) on this machine: 24 images at full size,
# net / net + solve (k = 3 and 4), quad-tree + solve, random (the net's count at each k);
# steps 0/200/2000 and wall-clock budgets 2/10/20 s. 12.7 h in all on 2 idle cores (sum of the
# 168 entries' wall times over 13 invocations; ~32 min per image).
# Resumable: finished (image, init, k) entries in results.json are skipped, so rerun to go on;
# `bench/eval_kodak.sh --stop-after 2h` ends cleanly between entries (exit code 3 while some are left).
# Then the README block: python -m igi_jax.experiments.report bench/results/eval_kodak/results.json \
#   --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY evaluate.py --dataset ../shared/datasets/kodak --inits net,net+solve,quadtree+solve,random \
  --kernel-size 3,4 --steps 0,200,2000 --seconds 2,10,20 --out bench/results/eval_kodak "$@"
