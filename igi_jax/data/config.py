"""The data half of a pretraining config: sources, labels, crops and the per-device batch.

Lives in :mod:`igi_jax.data` (not in the trainer) so that the data path depends on nothing
downstream of it; :class:`igi_jax.train.config.TrainConfig` holds one.

Paths: a relative path in a config (``dataset_root``, ``cache_dir``, and the trainer's
``init_weights``) is relative to the repository root (:data:`REPO`, the folder holding
``igi_jax/``, ``configs/`` and ``train.py``), never to the current folder, so a command means the
same from any folder. The code that reads a path calls :meth:`DataConfig.resolved` first. Paths
given on a command line (``--dataset-root``) or in ``IGI_DATASETS`` are the user's and relative to
the current folder; the entry points make them absolute.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from igi_jax.data.samples import VAL_PHOTOS

REPO = Path(__file__).resolve().parents[2]


def resolve_path(path: str | os.PathLike) -> str:
    """``path`` made absolute: a relative one is taken relative to :data:`REPO`."""
    return os.path.normpath(REPO / Path(path).expanduser())  # an absolute path replaces REPO


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the samples come from, how labels are made, how batches are cut.

    Attributes:
      dataset_root: folder holding the dataset folders named in ``sources`` (relative paths:
        to the repository root, see the module docstring).
      sources: ``(folder, scales)`` pairs: every image of ``dataset_root/folder`` at each
        downscale factor ≥ 1 (1 = as is; 1.5 allowed).
      exclude: image stems never trained on (the held-out photos).
      val: ``(folder, stems, scale)`` of the validation images (whole images).
      cache_dir: pseudo-PPM cache (PNG labels + ``manifest.json``; relative to the repository root).
      prepare_steps: fit steps from the quad-tree init per pseudo-PPM (measured, see configs).
      ppm_downsample: labels are stored at 1/this resolution (smooth maps; bilinear on load).
      limit: use at most this many images per source (``None``: all).
      crop: side of the square random crops (static shape per config).
      edge_jitter: each crop's image ends ``0 … edge_jitter`` px before its bottom and right
        edges (drawn per sample), the rest edge-replicated and masked out of the loss, as at
        inference where the UNet pads an image (``NetConfig.padded``) and the last dithering cell
        is cut ``H mod k`` px into the image (its point on the last pixel centre). 0: every crop
        is a whole ``crop × crop`` image, so the net sees only one bottom/right border geometry
        (the fault of ``tests/init/test_border.py``).
      batch_per_device: samples per device and step; the global batch is this × the device
        count of the run (:func:`global_batch`), so one config runs on 1 CPU or 64 GPUs.
      workers: grain worker processes (0: in the main process); part of the iterator state.
    """

    dataset_root: str = "../shared/datasets"
    sources: tuple[tuple[str, tuple[float, ...]], ...] = (("photos", (2, 3, 4)),)
    exclude: tuple[str, ...] = VAL_PHOTOS
    val: tuple[str, tuple[str, ...], int] = ("photos", VAL_PHOTOS, 4)
    cache_dir: str = "data/pseudo_ppm"
    prepare_steps: int = 250
    ppm_downsample: int = 2
    limit: int | None = None
    crop: int = 128
    batch_per_device: int = 4
    workers: int = 0
    edge_jitter: int = 0

    def __post_init__(self):
        if self.batch_per_device < 1 or self.crop < 16:
            raise ValueError(
                f"batch_per_device must be ≥ 1 and crop ≥ 16, got {self.batch_per_device=} {self.crop=}"
            )
        if not 0 <= self.edge_jitter <= self.crop // 2:
            raise ValueError(f"edge_jitter must be in 0 … crop/2 = {self.crop // 2}, got {self.edge_jitter}")

    def resolved(self) -> DataConfig:
        """This config with ``dataset_root`` and ``cache_dir`` absolute (:func:`resolve_path`)."""
        return dataclasses.replace(
            self, dataset_root=resolve_path(self.dataset_root), cache_dir=resolve_path(self.cache_dir)
        )

    def global_batch(self, device_count: int) -> int:
        """The global batch of a run on ``device_count`` devices."""
        return self.batch_per_device * device_count

    @classmethod
    def from_dict(cls, d: dict) -> DataConfig:
        """Inverse of ``dataclasses.asdict`` (JSON lists → tuples).

        Runs made before the batch became per device stored a global ``batch_size``; they ran on
        one device, so it reads as the per-device batch.
        """

        def tuples(x):
            return tuple(tuples(v) for v in x) if isinstance(x, list) else x

        d = {k: tuples(v) for k, v in d.items()}
        if "batch_size" in d:
            d["batch_per_device"] = d.pop("batch_size")
        return cls(**d)
