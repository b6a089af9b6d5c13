#!/usr/bin/env bash
# The "DIV2K ×2-like" table (issue 17): the paper's protocol on the photos held out from training
# (igi_jax.data.samples.VAL_PHOTOS) at their native size (0.9-1.3 megapixels), the same inits, k and
# budgets as bench/eval_kodak.sh. 7.2 h for the 35 entries on the idle 2-core CPU: 0.7-1.9 h per photo
# (1.3-3.7x a Kodak image; 90k-147k Gaussians from the net at k = 3). Resumable: rerun to go on.
# README block: python -m igi_jax.experiments.report bench/results/eval_heldout/results.json --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
ONLY=$($PY -c "from igi_jax.data.samples import VAL_PHOTOS; print(','.join(VAL_PHOTOS))")
$PY evaluate.py --dataset ../shared/datasets/photos --only "$ONLY" \
  --inits net,net+solve,quadtree+solve,random --kernel-size 3,4 --steps 0,200,2000 --seconds 2,10,20 \
  --out bench/results/eval_heldout "$@"
