"""An earlier run: net, net + solve and quad-tree + solve on 4 Kodak images, to 1,000 steps.

    python evaluate.py --config configs/experiments/net_vs_inits_kodak_long.py

kodim01/05/15/23 (``bench/inits.py``'s four) at full size, k = 3, steps 0 / 200 / 1,000, fitted
without the warm-up (the fit config of the time). Runtime: ~1.5 h.
"""

import dataclasses

from configs.experiments import net_vs_inits_kodak
from igi_jax.experiments import Experiment

LONG_IMAGES = ("kodim01", "kodim05", "kodim15", "kodim23")


def get_config() -> Experiment:
    return dataclasses.replace(
        net_vs_inits_kodak.get_config(),
        only=LONG_IMAGES,
        kernel_sizes=(3,),
        steps=(0, 200, 1000),
        out="bench/results/net_vs_inits_kodak_long",
        notes="Earlier run: 4 Kodak images to 1,000 steps, no warm-up.",
    )
