"""The grain input pipeline: cached pseudo-PPM samples → random crops, flips → static-shape batches.

``MapDataset.source(records).seed(seed).shuffle().repeat().random_map(crop_and_flip)
[process_index::process_count].batch(host_batch).to_iter_dataset()`` (+ ``mp_prefetch`` with
``workers`` processes). Deterministic for a seed: the crop of element i depends only on the seed
and i (``random_map`` before the per-host slice keys crops by global index). The iterator's state
(``get_state`` / ``set_state``, or ``grain.checkpoint.CheckpointSave``) goes into every checkpoint.

Each element is ``{"image": [c, c, 3] float32, "ppm": [c, c] float32}``; batches add a leading
``[B_host]`` axis.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import grain
import numpy as np

from igi_jax.data.config import DataConfig
from igi_jax.data.prepare import decode_ppm, ppm_path, read_manifest
from igi_jax.data.samples import Sample

REMEDY = "pass --dataset-root DIR or set IGI_DATASETS=DIR"


def _dataset_error(data: DataConfig, what: str) -> ValueError:
    """One line: what is missing, under which dataset root, and how to point at another."""
    folders = sorted({folder for folder, _ in data.sources} | {data.val[0]})
    return ValueError(
        f"{what} (dataset root {data.dataset_root}); {REMEDY} to the folder holding "
        + ", ".join(f"{f}/" for f in folders)
    )


def check_inputs(data: DataConfig, val_limit: int | None = None) -> None:
    """Check, before a run writes anything, that its labels and every image they need exist.

    ``data`` should be :meth:`DataConfig.resolved` (the paths are checked as given).

    Raises:
      ValueError: one line naming what is missing, where it was looked for, and the remedy.
    """
    root = Path(data.dataset_root)
    if not root.is_dir():
        raise _dataset_error(data, f"the dataset root {root} is not a folder")
    for folder in [f for f, _ in data.sources] + [data.val[0]]:
        if not (root / folder).is_dir():
            raise _dataset_error(data, f"dataset folder {root / folder} not found")
    validation_sources(data, val_limit)
    recs = records(data)
    missing = [r["source"] for r in recs if not (root / r["source"]).is_file()]
    if missing:
        raise _dataset_error(
            data,
            f"{len(missing)} of the {len(recs)} images of the label cache {data.cache_dir} are "
            f"missing, e.g. {root / missing[0]}",
        )


def records(data: DataConfig) -> list[dict[str, Any]]:
    """The cached samples of ``data`` (manifest order, sorted by name), as plain dicts.

    Raises:
      ValueError: the cache is missing or empty (run ``python -m igi_jax.data.prepare`` first).
    """
    manifest = read_manifest(data.cache_dir)
    names = sorted(n for n in manifest["samples"] if ppm_path(data.cache_dir, n).exists())
    if not names:
        raise ValueError(
            f"{data.cache_dir}: no cached pseudo-PPMs; build them with "
            f"`python -m igi_jax.data.prepare --config <config>`"
        )
    return [{"name": n, **manifest["samples"][n]} for n in names]


def load_record(rec: dict[str, Any], *, data: DataConfig) -> dict[str, np.ndarray]:
    """A whole sample: ``image [H, W, 3]`` rebuilt from the dataset, ``ppm [H, W]`` from the cache."""
    sample = Sample(name=rec["name"], source=rec["source"], scale=rec["scale"])
    image = sample.load(data.dataset_root)
    h, w = image.shape[:2]
    if (h, w) != (rec["height"], rec["width"]):
        raise ValueError(
            f"{sample.source} ×{sample.scale} is {w}×{h}, the cache says "
            f"{rec['width']}×{rec['height']}: the dataset changed; rebuild the cache"
        )
    return {"image": image, "ppm": decode_ppm(ppm_path(data.cache_dir, rec["name"]), h, w)}


def crop_and_flip(
    element: dict[str, np.ndarray], rng: np.random.Generator, *, size: int, edge_jitter: int = 0
) -> dict[str, np.ndarray]:
    """A random ``size × size`` crop and a random horizontal flip, the same for image and PPM.

    With ``edge_jitter`` the crop's image is ``h × w`` with ``h, w`` drawn in
    ``[size − edge_jitter, size]``: the rows and columns beyond repeat its last ones (the
    UNet's padding at inference) and ``size`` (``[2]`` int32, ``(h, w)``) tells the train step
    what is image. Without it, ``size`` is ``(size, size)`` and the random stream is unchanged.
    """
    h, w = element["ppm"].shape
    if h < size or w < size:
        raise ValueError(f"sample is {w}×{h} px, smaller than the {size}-px crop")
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    out = {k: v[y : y + size, x : x + size] for k, v in element.items()}
    if rng.random() < 0.5:
        out = {k: v[:, ::-1] for k, v in out.items()}
    hw = (size, size)
    if edge_jitter > 0:
        hw = tuple(int(v) for v in rng.integers(size - edge_jitter, size + 1, size=2))
        pad = ((0, size - hw[0]), (0, size - hw[1]))
        out["image"] = np.pad(out["image"][: hw[0], : hw[1]], (*pad, (0, 0)), mode="edge")
    out = {k: np.ascontiguousarray(v) for k, v in out.items()}
    return {**out, "size": np.asarray(hw, np.int32)}


def make_dataset(
    data: DataConfig,
    *,
    seed: int,
    host_batch: int | None = None,
    process_index: int = 0,
    process_count: int = 1,
) -> grain.IterDataset:
    """Infinite, shuffled, cropped, batched training stream for one host.

    Element ``i`` of the shuffled stream goes to host ``i % process_count``, so step ``t``'s
    global batch (the hosts' rows in process order) is elements ``t·G … t·G + G − 1`` with
    ``G = host_batch × process_count``: the same samples whatever the number of hosts.

    Args:
      data: the data config.
      seed: shuffling and crop seed.
      host_batch: rows per step on this host (default ``data.batch_per_device``, one device).
      process_index, process_count: this host's slice (``jax.process_index()``, ``jax.process_count()``).
    """
    host_batch = data.batch_per_device if host_batch is None else host_batch
    if host_batch < 1 or not 0 <= process_index < process_count:
        raise ValueError(f"bad host slice: {host_batch=}, {process_index=}, {process_count=}")
    ds = (
        grain.MapDataset.source(records(data))
        .seed(seed)
        .shuffle()
        .repeat()
        .map(functools.partial(load_record, data=data))
        .random_map(functools.partial(crop_and_flip, size=data.crop, edge_jitter=data.edge_jitter))
    )
    ds = ds[process_index::process_count]
    ds = ds.batch(host_batch, drop_remainder=True)
    it = ds.to_iter_dataset()
    if data.workers > 0:
        from absl import flags

        # grain's worker processes read absl flags, which are parsed only under absl.app.run;
        # train.py is a plain argparse program (without this, workers > 0 crashed on start).
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=data.workers))
    return it


def validation_sources(data: DataConfig, limit: int | None = None) -> list[Sample]:
    """The held-out samples (whole images, ×scale), not loaded.

    Raises:
      ValueError: an image is missing (one line, with the remedy).
    """
    folder, stems, scale = data.val
    root = Path(data.dataset_root)
    out = []
    for stem in stems[:limit]:
        matches = sorted((root / folder).glob(f"{stem}.*"))
        if not matches:
            raise _dataset_error(data, f"validation image {stem!r} not found in {root / folder}")
        out.append(Sample(name=f"{folder}_{stem}_x{scale:g}", source=str(matches[0]), scale=scale))
    return out


def validation_images(data: DataConfig, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """The held-out images (whole, ×scale), as ``[(name, [H, W, 3])]``."""
    return [(s.name, s.load()) for s in validation_sources(data, limit)]
