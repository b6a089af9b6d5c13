"""Issue 31's Kodak race at matched counts: a candidate net + solve with exactly as many Gaussians
as quad-tree + solve on every image, against it.

    python evaluate.py --config configs/experiments/matched_count_kodak.py:v2_warm_width3

Kodak at full size, k = 3, the default fit, step budgets 0 / 200 / 2,000 (deterministic, so
the pairing holds on a loaded machine; the wall-clock budgets of the issue's table are not run
here). ``limit = 8``: the first 8 images (~4 min each on the shared 2-core CPU); raising it
resumes the run on the rest. The net's PPM is scaled to quad-tree + solve's count
(:mod:`igi_jax.net.count`). Kodak is held out: the candidate was chosen on the held-out photos
(``matched_count_heldout``).
"""

import dataclasses

from configs.experiments.matched_count_heldout import get_config as heldout
from igi_jax.experiments import Experiment


def get_config(arg: str | None = None) -> Experiment:
    arg = arg or "v2_warm_width3"
    return dataclasses.replace(
        heldout(arg),
        dataset="kodak",
        only=None,
        downscale=1,
        limit=8,
        out=f"bench/results/matched_count_kodak/{arg}",
        notes=f"Issue 31, candidate {arg} at the quad-tree's count: Kodak, steps 0/200/2000.",
    )
