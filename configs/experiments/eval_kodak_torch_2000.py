"""igi_jax and the PyTorch baseline at every step budget (0 / 200 / 2,000), on kodim23.

    python evaluate.py --config configs/experiments/eval_kodak_torch_2000.py

Quad-tree + solve at full size, fitted by both from the very same init (PyTorch on 2 threads).
The net + solve init is left out: its wider Gaussians make JAX's 2,000 steps take 300 s here, so
the baseline's would take 65-90 min. Runtime: 0.33 h (JAX 90 s, PyTorch 1,086 s of fitting).
"""

import dataclasses

from configs.experiments import eval_kodak_torch
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return dataclasses.replace(
        eval_kodak_torch.get_config(),
        only=("kodim23",),
        inits=("quadtree+solve",),
        steps=(0, 200, 2000),
        seconds=(),
        out="bench/results/eval_kodak_torch_2000",
        notes="kodim23, igi_jax vs PyTorch at 0 / 200 / 2,000 steps; 0.33 h.",
    )
