#!/usr/bin/env bash
# The PyTorch rows of the Kodak protocol at every step budget (0 / 200 / 2,000), where this CPU can
# afford them: kodim23 at full size, quad-tree + solve, fitted by igi_jax and by the PyTorch
# baseline from the very same init (2 threads); 0.33 h (JAX 90 s, PyTorch 1,086 s of fitting).
# The net + solve init is left out: its wider Gaussians make JAX's 2,000 steps take 300 s here,
# so the baseline's would take 65-90 min.
# bench/eval_kodak_torch_steps.sh covers 200 steps on 4 images, bench/eval_kodak_torch.sh the
# wall-clock budgets on all 24.
# Resumable: rerun to go on (finished entries are reused). README block:
#   python -m igi_jax.experiments.report bench/results/eval_kodak_torch_2000/results.json --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY evaluate.py --dataset ../shared/datasets/kodak --only kodim23 --inits quadtree+solve \
  --steps 0,200,2000 --baseline torch --torch-threads 2 \
  --out bench/results/eval_kodak_torch_2000 "$@"
