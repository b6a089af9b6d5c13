"""An earlier run: the random init with the net's count on the same 4 Kodak images, to 10,000 steps.

    python evaluate.py --config configs/experiments/net_vs_inits_kodak_long_random.py

Steps 200 / 2,000 / 10,000, fitted without the warm-up; 10,000 steps on all 24 images would take
~1 day on 2 CPU cores. Runtime: ~3 h.
"""

import dataclasses

from configs.experiments import net_vs_inits_kodak_long
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return dataclasses.replace(
        net_vs_inits_kodak_long.get_config(),
        inits=("random",),
        steps=(200, 2000, 10000),
        out="bench/results/net_vs_inits_kodak_long_random",
        notes="Earlier run: random init with the net's count, 4 Kodak images, to 10,000 steps.",
    )
