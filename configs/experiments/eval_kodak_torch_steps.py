"""igi_jax and the PyTorch baseline at a step budget, on the first 4 Kodak images.

    python evaluate.py --config configs/experiments/eval_kodak_torch_steps.py

Net + solve (k = 3) and quad-tree + solve, each fitted by both from the very same init, 200 steps
(and step 0). At equal steps the two reach the same PSNR at full size with the real inits, so
the step columns of the full Kodak report stand for both and only the clock differs. 2,000 steps
are left out: the baseline would take 15-70 min per image and init here (10× its 200-step times,
91-406 s). Runtime: 0.5 h.
"""

import dataclasses

from configs.experiments import eval_kodak_torch
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return dataclasses.replace(
        eval_kodak_torch.get_config(),
        limit=4,
        steps=(0, 200),
        seconds=(),
        out="bench/results/eval_kodak_torch_steps",
        notes="First 4 Kodak images, igi_jax vs PyTorch at 200 steps; 0.5 h.",
    )
