"""Issue 31: the net's density calibration (its PPM scale) in the fine-tune race, on the held-out photos.

    python evaluate.py --config configs/experiments/ppm_scale_heldout.py:1.0
    python evaluate.py --config configs/experiments/ppm_scale_heldout.py:1.2

The candidate net (``long_edge48`` at step 6,000) gives fewer Gaussians than quad-tree + solve
(0.86× in total on these photos at ×2, 0.78× on Kodak), and at the quad-tree's count it was level
or ahead (``matched_count_*``). A fixed factor on its PPM before dithering keeps where the density
goes and moves the count, with no search at inference: 1.2 gives these photos the quad-tree's
total count (1.03×; counted, not raced, before choosing it). Each run races net + solve at one
factor against quad-tree + solve, k = 3, on the 5 held-out photos at ×2 (~0.3 MP, near Kodak's
size, where the ×4 matched-count lead had not carried over), steps 0 / 200 / 2000 and 2 / 10 / 20
s, on ``igi fit``'s render path. Kodak is not used to choose. Runtime: ~13 min per factor.
"""

import dataclasses

from configs.experiments import matched_count_heldout
from igi_jax.experiments import Experiment

WEIGHTS = "bench/results/train_v2_long_edge48/weights.npz"


def get_config(arg: str | None = None) -> Experiment:
    scale = float(arg or "1.0")
    return dataclasses.replace(
        matched_count_heldout.get_config(),
        downscale=2,
        count_from=None,
        ppm_scale=scale,
        seconds=(2.0, 10.0, 20.0),
        weights=WEIGHTS,
        out=f"bench/results/ppm_scale_heldout/{scale:g}",
        notes=f"Issue 31: net + solve, PPM × {scale:g}, against quad-tree + solve, held-out photos ×2.",
    )
