#!/usr/bin/env bash
# The PyTorch rows of the Kodak protocol at a step budget, on a sample this CPU can afford: the
# first 4 Kodak images at full size, net + solve (k = 3) and quad-tree + solve, each fitted by
# igi_jax and by the PyTorch baseline from the very same init, 200 steps (and step 0, the init).
# It shows that at equal steps the two fits reach the same PSNR at full size with the real inits
# (bench/adan_parity.py shows it step by step on a small image), so the step columns of the full
# Kodak report stand for both, and only the clock differs (bench/eval_kodak_torch.sh measures
# that on all 24 images). 2,000 steps are left out: the baseline would take 15-70 min per image
# and init here (10x its 200-step times: 91-406 s).
# Resumable: rerun to go on; `--stop-after 1h` ends cleanly between entries (exit code 3 while
# some are left). README block: python -m igi_jax.experiments.report \
#   bench/results/eval_kodak_torch_steps/results.json --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY evaluate.py --dataset ../shared/datasets/kodak --limit 4 --inits net+solve,quadtree+solve \
  --kernel-size 3 --steps 0,200 --baseline torch --torch-threads 2 \
  --out bench/results/eval_kodak_torch_steps "$@"
