"""A synthetic dataset + pseudo-PPM cache in a temp folder, in the layout ``prepare`` writes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from configs.net_tiny import get_config
from igi_jax.data.prepare import FORMAT, encode_ppm
from igi_jax.train.config import TrainConfig


def synthetic_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour ramps plus a few sharp discs: content with both flat and busy regions."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * x * y)], -1)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 10)
        disc = (np.mgrid[0:h, 0:w][0] - cy) ** 2 + (np.mgrid[0:h, 0:w][1] - cx) ** 2 < r * r
        img[disc] = rng.uniform(0, 1, 3)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_setup(tmp_path_factory):
    """``(cfg, root)``: the tiny config pointed at 3 training images + 1 validation image."""
    return make_tiny(tmp_path_factory.mktemp("datasets"))


def make_tiny(root: Path) -> tuple[TrainConfig, Path]:
    """Write the synthetic images and labels of :func:`tiny_setup` under ``root``."""
    rng = np.random.default_rng(0)
    (root / "photos").mkdir()
    names = ["a01", "a02", "a03", "v01"]
    for n in names:
        img = (synthetic_image(rng, 64, 80) * 255).astype(np.uint8)
        Image.fromarray(img).save(root / "photos" / f"{n}.png")
    cfg = get_config()
    data = dataclasses.replace(
        cfg.data,
        dataset_root=str(root),
        sources=(("photos", (1,)),),
        exclude=("v01",),
        val=("photos", ("v01",), 1),
        cache_dir=str(root / "cache"),
        limit=None,
    )
    cfg = cfg.replace(data=data)
    # Labels: a deterministic stand-in for fitted pseudo-PPMs (tests of prepare() itself fit).
    (root / "cache" / "ppm").mkdir(parents=True)
    samples = {}
    for n in names[:3]:
        img = np.asarray(Image.open(root / "photos" / f"{n}.png"), np.float32) / 255
        lum = img.mean(-1)
        grad = np.abs(np.diff(lum, axis=0, append=0)) + np.abs(np.diff(lum, axis=1, append=0))
        ppm = np.clip(grad / grad.max() * 2, 0, 1)
        encode_ppm(ppm, data.ppm_downsample).save(root / "cache" / "ppm" / f"photos_{n}_x1.png")
        samples[f"photos_{n}_x1"] = {
            "source": f"photos/{n}.png",
            "scale": 1,
            "height": 64,
            "width": 80,
            "gaussians": 0,
            "steps": 0,
            "psnr_init": 0.0,
            "psnr_fit": 0.0,
            "seconds": 0.0,
        }
    (root / "cache" / "manifest.json").write_text(json.dumps({"format": FORMAT, "samples": samples}))
    return cfg, root
