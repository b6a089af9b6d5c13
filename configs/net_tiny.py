"""``tiny``: the test config — a tiny network on 48² crops for a few steps (seconds on a CPU).

    python train.py --config configs/net_tiny.py --workdir runs/tiny

Expected: the training loss goes down over the 20 steps (``tests/train``); the validation PSNR
of an untrained tiny net is meaningless. Uses the same cache layout as ``small``; the tests build
their own cache from synthetic images.
"""

from __future__ import annotations

import dataclasses

from configs.net_small import get_config as small
from igi_jax.train.config import TrainConfig


def get_config() -> TrainConfig:
    base = small()
    data = dataclasses.replace(base.data, crop=48, batch_per_device=2, limit=2, prepare_steps=20)
    return base.replace(
        net="tiny", data=data, steps=20, warmup=2, log_every=2, val_every=10, ckpt_every=5, val_limit=1
    )
