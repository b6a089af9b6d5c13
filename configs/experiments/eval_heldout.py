"""The "DIV2K ×2-like" table (issue 17): the Kodak protocol on the photos held out from training.

    python evaluate.py --config configs/experiments/eval_heldout.py [--stop-after 2h]

The photos of :data:`igi_jax.data.samples.VAL_PHOTOS` at their native size (0.9-1.3 megapixels),
the inits, k and budgets of ``eval_kodak``. Runtime: 7.2 h for the 35 entries on the idle 2-core
CPU (0.7-1.9 h per photo; 90k-147k Gaussians from the net at k = 3). Expected: net + solve ahead
of quad-tree + solve on all five at step 0, 2 s and 10 s, behind on all five at 2,000 steps.
"""

import dataclasses

from configs.experiments import eval_kodak
from igi_jax.data.samples import VAL_PHOTOS
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return dataclasses.replace(
        eval_kodak.get_config(),
        dataset="photos",
        only=tuple(VAL_PHOTOS),
        out="bench/results/eval_heldout",
        notes="Held-out photos at native size (5 photos); 7.2 h on the idle 2-core CPU.",
    )
