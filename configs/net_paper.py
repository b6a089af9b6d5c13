"""``paper``: Instant-GI's published training setup, for GPU users who have DIV2K.

ConvNeXt-Base UNet (dims 128/256/512/1024, depths 3/3/27/3), DIV2K train 0001–0800 at
×2/×3/×4 bicubic (2,400 samples), whole images (here: 512² crops, since a batch needs one static
shape), batch 1 per device (the global batch is the device count), k = 3, Adam 1e-3 → 1e-5 cosine
over 100 epochs (240,000 steps on one device; on N devices 240,000 / N steps cover the same
epochs), best checkpoint by validation PSNR (DIV2K valid 0801–0900 ×2).

    # DIV2K_train_HR/ and DIV2K_valid_HR/ under $DATA; labels, then training on every GPU:
    python -m igi_jax.data.prepare --config configs/net_paper.py --dataset-root $DATA
    python train.py --config configs/net_paper.py --workdir runs/paper --dataset-root $DATA

Expected (official, A100): Kodak init 43k Gaussians at 30.5 dB in 0.22 s. Not run here (no GPU,
no DIV2K on these machines).
"""

from __future__ import annotations

from igi_jax.train.config import DataConfig, TrainConfig


def get_config() -> TrainConfig:
    val = ("DIV2K_valid_HR", tuple(f"{i:04d}" for i in range(801, 901)), 2)
    data = DataConfig(
        sources=(("DIV2K_train_HR", (2, 3, 4)),),
        exclude=(),
        val=val,
        crop=512,
        batch_per_device=1,
        workers=4,
        prepare_steps=2000,
        ppm_downsample=2,
    )
    return TrainConfig(
        net="paper",
        data=data,
        kernel_size=3,
        steps=240_000,
        lr=1e-3,
        lr_end=1e-5,
        warmup=1000,
        clip_norm=1.0,
        log_every=50,
        val_every=2400,
        ckpt_every=1000,
        val_limit=10,
    )
