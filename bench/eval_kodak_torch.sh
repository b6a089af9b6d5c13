#!/usr/bin/env bash
# The PyTorch rows of the Kodak protocol (issue 17) where this CPU can afford them: the 24 images
# at full size, net + solve (k = 3) and quad-tree + solve, each fitted by igi_jax and by the PyTorch
# baseline from the very same init, at the wall-clock budgets 2 / 10 / 20 s (and step 0, the init).
# The step budgets are left out: the baseline's fit step is 6.6× JAX's on the idle machine
# (bench/results/vs_torch.txt, 2 threads), so its 2,000-step fits would take 15-70 min per image and init
# (its 20 s fits in bench/results/eval_kodak_torch reach 32 steps from the quad-tree init, 14 from the net,
# means over the 24 images). The whole run took 1.0 h (2.5 min per image).
# bench/eval_kodak_torch_steps.sh fits both to 200 steps on 4 of the images (equal PSNR, 11-18x the time).
# PyTorch runs on 2 threads (faster than 1 when nothing else runs; under load, 1 is: vs_torch_1thread.txt).
# FPS: JAX over 50 renders, PyTorch over 50 or 5 s (a full-size PyTorch render takes 0.2-0.6 s here).
# Resumable: rerun to go on; `--stop-after 2h` ends cleanly between entries (exit code 3 while some
# are left). README block: python -m igi_jax.experiments.report \
#   bench/results/eval_kodak_torch/results.json --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY evaluate.py --dataset ../shared/datasets/kodak --inits net+solve,quadtree+solve --kernel-size 3 \
  --steps 0 --seconds 2,10,20 --baseline torch --torch-threads 2 --out bench/results/eval_kodak_torch "$@"
