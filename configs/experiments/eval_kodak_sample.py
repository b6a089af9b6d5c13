"""An earlier run, a 2-image sample, not the full evaluation (no trained weights existed yet).

    python evaluate.py --config configs/experiments/eval_kodak_sample.py

kodim01 and kodim02 at half size (384×256), steps 0 and 200, quad-tree + solve and random (with
the quad-tree's count: no network), each also fitted by the PyTorch baseline (1 thread), with the
fit config of the time (no warm-up, and no ``xy_lr_side`` rule, which would be a no-op at 384 px).
Runtime: a few minutes.
"""

import dataclasses

from configs.experiments.eval_kodak_no_warmup import no_warmup_fit
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return Experiment(
        backend="reference",  # the XLA path its committed results were made on (not cpu-native)
        dataset="kodak",
        inits=("quadtree+solve", "random"),
        steps=(0, 200),
        fit=dataclasses.replace(no_warmup_fit(), xy_lr_side=None),
        weights=None,
        baseline="torch",
        limit=2,
        downscale=2,
        out="bench/results/eval_kodak_sample",
        notes="Earlier run: 2 Kodak images at half size, before the network existed.",
    )
