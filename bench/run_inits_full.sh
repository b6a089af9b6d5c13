#!/usr/bin/env bash
# The full-size Kodak init benchmark, in the order that answers the target first: every init
# fitted 2,000 steps with GaussianImage's recipe (the paper's Adan, lr 1e-3).
# Resumable: every finished (image, init) run is cached under bench/results/inits_full/runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=bench/results/inits_full
$PY bench/inits.py --images kodim23,kodim05,kodim01,kodim15 --inits quadtree+solve,random --steps 2000 --out $OUT
$PY bench/inits.py --images kodim23,kodim05,kodim01,kodim15 --inits quadtree,random-gi --steps 2000 --out $OUT
