#!/usr/bin/env bash
# The paper's Table 3 ablations that the landed pieces allow, at the init (step 0), on the 24
# Kodak images, k = 3 and 4 (k = 4 runs the net trained at 3 without retraining):
#   net          the network (PPM → dithering → Delaunay → fields)
#   grad-dither  dither the image-gradient map instead of the predicted PPM (fields kept)
#   ellipse      the net's PPM and triangles, no fields: each triangle's ellipse is a Gaussian
#   +solve       ours: the least-squares colour solve after the init
# Resumable: rerun to go on. README block: python -m igi_jax.experiments.report \
#   bench/results/ablation_kodak/results.json --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
$PY evaluate.py --dataset ../shared/datasets/kodak \
  --inits net,net+solve,grad-dither,grad-dither+solve,ellipse,ellipse+solve --kernel-size 3,4 \
  --steps 0 --fps-repeats 5 --grid-images 0 --out bench/results/ablation_kodak "$@"
