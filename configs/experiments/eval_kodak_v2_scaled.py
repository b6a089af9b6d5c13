"""Issue 31: the shipped net with its PPM × 1.2 (chosen on the held-out photos) in the Kodak race.

    python evaluate.py --config configs/experiments/eval_kodak_v2_scaled.py

``eval_kodak_v2`` with ``ppm_scale = 1.2``: the factor that gave the held-out photos ×2 the
quad-tree's count and the lead at 200 and 2,000 steps (``ppm_scale_heldout``). Net + solve and
quad-tree + solve in one run, k = 3, cpu-native, steps 0 / 200 / 2000 and 2 / 10 / 20 s.
All 24 images (~3.3 min each on the idle 2-core CPU; the first 6 ran first, the rest resumed).
"""

import dataclasses

from configs.experiments import eval_kodak_v2
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return dataclasses.replace(
        eval_kodak_v2.get_config(),
        ppm_scale=1.2,
        out="bench/results/eval_kodak_v2_scaled",
        notes="Issue 31: the shipped net, PPM x 1.2, against quad-tree + solve, Kodak.",
    )
