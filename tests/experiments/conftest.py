"""Fixtures: a randomly initialised tiny network saved to a file, and a folder of small images."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    from flax import nnx

    from igi_jax.net import InstantGINet, NetConfig, save_weights

    model = InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(0))
    return save_weights(tmp_path_factory.mktemp("net") / "tiny.npz", model, meta={"note": "untrained"})


def synthetic(height: int, width: int, seed: int) -> np.ndarray:
    """``[H, W, 3]`` uint8: smooth gradients plus a few sharp-edged discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.stack([0.5 + 0.4 * np.sin(xx / (6 + seed)), 0.5 + 0.4 * np.cos(yy / 5), xx / width], -1)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(4, 12)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    """``[48, 64, 3]`` float32 in [0, 1]: the first image of :func:`dataset`."""
    return synthetic(48, 64, 0).astype(np.float32) / 255


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dataset")
    for i in range(2):
        Image.fromarray(synthetic(48, 64, i)).save(d / f"img{i}.png")
    return d
