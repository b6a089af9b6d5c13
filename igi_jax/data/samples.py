"""Training samples: which images, at which scales, and how each is made from its source.

A sample is a source image downscaled by a factor s ≥ 1 with PIL's bicubic filter (the
paper's DIV2K ×2/×3/×4 protocol; fractional factors such as 1.5 too), size
``round(W/s) × round(H/s)``. Samples are rebuilt from the
source on demand (cheap and deterministic), so the cache only has to hold the pseudo-PPMs.

The photos split: :data:`VAL_PHOTOS` are held out of training (validation during pretraining and
the "DIV2K ×2-like" evaluation); Kodak is never a training source.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

# Held-out photos (chosen before any training, by name: the last five of the folder).
VAL_PHOTOS = ("043", "044", "046", "047", "048")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One training sample: ``source`` downscaled by ``scale``; ``name`` is unique and path-safe."""

    name: str
    source: str
    scale: float

    def load(self, root: str | Path | None = None) -> np.ndarray:
        """``[H, W, 3]`` float32 in [0, 1]; ``root`` resolves a relative ``source``."""
        path = Path(self.source) if root is None else Path(root) / self.source
        return downscale(path, self.scale)


def downscale(path: str | Path, scale: float) -> np.ndarray:
    """Read an image and downscale it ×``scale`` (bicubic), as ``[H, W, 3]`` float32 in [0, 1]."""
    if scale < 1:
        raise ValueError(f"scale must be a number ≥ 1, got {scale}")
    with Image.open(path) as im:
        im = im.convert("RGB")
        if scale > 1:
            w, h = im.size
            im = im.resize((max(1, round(w / scale)), max(1, round(h / scale))), Image.BICUBIC)
        return np.asarray(im, np.float32) / 255.0


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a directory")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def make_samples(
    folder: str | Path,
    scales: tuple[float, ...],
    *,
    root: str | Path,
    exclude: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    limit: int | None = None,
) -> list[Sample]:
    """Samples for every image in ``folder`` (stems in ``exclude`` skipped, or only ``only``).

    Ordered scale by scale (all images at ``scales[0]`` first), so that a partly built cache
    already covers every image. ``source`` is stored relative to ``root`` so a cache made on one
    machine resolves on another.
    """
    folder, root = Path(folder), Path(root)
    paths = [p for p in list_images(folder) if p.stem not in exclude and (not only or p.stem in only)]
    if limit is not None:
        paths = paths[:limit]
    tag = str(folder.resolve().relative_to(root.resolve())).replace("/", "-")
    return [
        Sample(name=f"{tag}_{p.stem}_x{s:g}", source=str(p.resolve().relative_to(root.resolve())), scale=s)
        for s in scales
        for p in paths
    ]
