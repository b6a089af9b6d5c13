#!/usr/bin/env bash
# The "DIV2K ×2-like" table (issue 17): the paper's protocol on the photos held out from training
# (igi_jax.data.samples.VAL_PHOTOS) at their native ~1,250×830, the same inits, k and budgets as
# bench/eval_kodak.sh. Each image costs ~5× a Kodak one (~2.5 h, estimated:
# photo 043's net k = 3 entry has 147k Gaussians and took 27 min). Resumable: rerun to go on.
# README block: python -m igi_jax.experiments.report bench/results/eval_heldout/results.json --readme README.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
ONLY=$($PY -c "from igi_jax.data.samples import VAL_PHOTOS; print(','.join(VAL_PHOTOS))")
$PY evaluate.py --dataset ../shared/datasets/photos --only "$ONLY" \
  --inits net,net+solve,quadtree+solve,random --kernel-size 3,4 --steps 0,200,2000 --seconds 2,10,20 \
  --out bench/results/eval_heldout "$@"
