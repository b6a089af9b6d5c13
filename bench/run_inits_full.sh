#!/usr/bin/env bash
# The full-size Kodak init benchmark, in the order that answers the target first.
# Resumable: every finished (image, init) run is cached under bench/results/inits_full/runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=bench/results/inits_full
$PY bench/inits.py --images kodim05,kodim01,kodim15 --inits quadtree+solve,random --out $OUT
$PY bench/inits.py --images kodim23 --inits quadtree+solve --out $OUT
$PY bench/inits.py --images kodim23,kodim05,kodim01,kodim15 --inits quadtree,random-gi --out $OUT
