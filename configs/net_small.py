"""``small``: the first network's config — the Instant-GI network at a size 2 CPU cores can train.

Data: the 34 training photos of ``../shared/datasets/photos`` (5 held out, see
``igi_jax/data/samples.VAL_PHOTOS``) at ×4/×3/×2 bicubic downscales (the paper's DIV2K protocol;
the photos are about DIV2K ×2 scale; built in that order, small first). Pseudo-PPMs come from
250-step fits from the quad-tree init: on photo 001 ×2 the label moves by a mean of 0.13 between
0 and 125 steps, 0.018 between 250 and 500 and 0.013 between 500 and 1000
(``bench/results/pseudo_ppm_steps.md``), so 250 steps halve the cost of 500 for a label within
2 % of its range of the 1000-step one. 128² random crops, batch 4 per device, k = 3, Adam 1e-3 → 1e-5
cosine, gradient clip 1.0; validation: the net init (no fine-tune) of the 5 held-out photos ×4.

    python -m igi_jax.data.prepare --config configs/net_small.py      # the label cache, once
    python train.py --config configs/net_small.py --workdir runs/small  # resumable

The measured run, wall time and validation numbers are in ``igi_jax/net/weights/MODEL_CARD.md``.
"""

from __future__ import annotations

from igi_jax.train.config import DataConfig, TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        net="small",
        data=DataConfig(
            sources=(("photos", (4, 3, 2)),),
            crop=128,
            batch_per_device=4,
            workers=0,
            prepare_steps=250,
            ppm_downsample=2,
        ),
        kernel_size=3,
        steps=4000,
        lr=1e-3,
        lr_end=1e-5,
        warmup=100,
        clip_norm=1.0,
        log_every=10,
        val_every=250,
        ckpt_every=50,
    )
