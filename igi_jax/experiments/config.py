"""An experiment, as one plain dataclass: what :class:`~igi_jax.experiments.runner.Runner` runs.

Every paper experiment is a config, ``configs/experiments/<name>.py``, whose ``get_config()``
returns an :class:`Experiment`; ``python evaluate.py --config configs/experiments/<name>.py`` runs
it (resumable). ``evaluate.py --dataset DIR --inits ...`` builds the same dataclass from flags.

Paths are never absolute in a config or a result: ``dataset`` is a folder name under the datasets
root (:func:`datasets_root`: ``$IGI_DATASETS``, default ``../shared/datasets`` beside the
checkout) or a path; ``out`` is relative to the repository. :func:`dataset_label` is what a result
records: the folder relative to the datasets root, else to the repository.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from igi_jax import config_file, io
from igi_jax.fit import FitConfig
from igi_jax.init import SOLVE_ITERS, parse_spec
from igi_jax.init.choices import check_ppm_scale
from igi_jax.render import api as render_api

if TYPE_CHECKING:
    from igi_jax.experiments.rd import RateDistortion

REPO = Path(__file__).resolve().parents[2]
SHIPPED = "shipped"  # `weights`: the package's trained weights, when they exist
SECONDS_BLOCKS = "cut to the time left"  # the settings' record of the seconds-budget rule


def datasets_root() -> Path:
    """Where dataset folders named in configs live: ``$IGI_DATASETS`` or ``<repo>/../shared/datasets``."""
    return Path(os.environ.get("IGI_DATASETS") or REPO.parent / "shared" / "datasets")


def resolve_dataset(dataset: str | os.PathLike) -> Path:
    """A dataset folder: ``dataset`` itself when it exists (absolute or from the working directory),
    else ``datasets_root() / dataset``."""
    path = Path(dataset)
    return path if path.is_dir() or path.is_absolute() else datasets_root() / path


def dataset_label(path: str | os.PathLike) -> str:
    """What a result records for a dataset folder: relative to the datasets root, else to the
    repository, else (an ad-hoc folder elsewhere) its absolute path."""
    path = Path(path).resolve()
    for root in (datasets_root().resolve(), REPO):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return str(path)


def shipped_weights() -> Path:
    """Where the package's trained ``small`` weights live (they may not exist yet)."""
    return REPO / "igi_jax" / "net" / "weights" / "small.npz"


@dataclasses.dataclass(frozen=True)
class Experiment:
    """Everything a run measures.

    Attributes:
      dataset: dataset folder (a name under :func:`datasets_root`, or a path).
      inits: init specs (:func:`igi_jax.init.parse_spec`: a name, optionally ``+solve``).
      kernel_sizes: dithering cells of the net-based inits.
      steps: step budgets (0 = the init alone).
      seconds: wall-clock budgets, init included.
      fit: fine-tuning config (its ``steps``/``seconds``/``log_every`` are set per budget);
        ``None``: the shipped ``configs/fit_default.py``.
      weights: network weights file (net-based inits, and the random init's count); ``"shipped"``:
        the package's when they exist; ``None``: no network (random takes the quad-tree's count).
      baseline: ``"torch"`` adds the PyTorch GaussianImage rows, or ``None``.
      downscale: integer box-downscale of every image (1 = full size).
      limit: only the first N images.
      only: only the images with these names (file stems), e.g. a held-out split of a folder.
      fps_repeats: renders timed for the FPS.
      grid_images: images whose renders are kept for the grid plot.
      seed: random-init seed.
      count_from: the ``net`` inits take the Gaussian count of this init's entry for the same
        image (e.g. ``"quadtree+solve"``, listed before them in ``inits``), through the net's
        rate control (:mod:`igi_jax.net.count`): a matched-count comparison. ``None``: the net's own.
      ppm_scale: the ``net`` inits dither ``clip(ppm_scale · PPM, 0, 1)``; ``None``: the factor
        the weights file records (1 if none).
      backend: render backend.
      torch_threads: PyTorch intra-op threads of the baseline (``None``: its default). On a loaded
        2-core machine one thread is far faster (OpenMP threads spin-wait).
      out: report folder, relative to the repository (configs) or a path (flags).
      name: short name (the config's file stem).
      notes: what the experiment shows and what it cost, in words.
    """

    dataset: str
    inits: tuple[str, ...] = ("net", "net+solve", "quadtree+solve", "random")
    kernel_sizes: tuple[int, ...] = (3,)
    steps: tuple[int, ...] = (0, 200, 2000)
    seconds: tuple[float, ...] = ()
    fit: FitConfig | None = None
    weights: str | None = SHIPPED
    baseline: str | None = None
    downscale: int = 1
    limit: int | None = None
    only: tuple[str, ...] | None = None
    fps_repeats: int = 50
    grid_images: int = 3
    seed: int = 0
    count_from: str | None = None
    ppm_scale: float | None = None
    backend: str = "auto"
    torch_threads: int | None = 1
    out: str = "out/experiments"
    name: str = ""
    notes: str = ""

    def __post_init__(self):
        for s in self.inits:
            parse_spec(s)
        if not self.steps and not self.seconds:
            raise ValueError("give at least one budget (steps or seconds)")
        if any(s < 0 for s in self.steps) or any(not t > 0 for t in self.seconds):
            raise ValueError(f"budgets must be steps ≥ 0 and seconds > 0, got {self.steps}, {self.seconds}")
        if any(k not in (3, 4, 5) for k in self.kernel_sizes):
            raise ValueError(f"kernel sizes must be 3, 4 or 5, got {self.kernel_sizes}")
        for name in ("inits", "kernel_sizes", "steps", "seconds", "only"):
            values = getattr(self, name) or ()
            if len(set(values)) < len(values):  # a repeated budget would be fitted twice
                raise ValueError(f"{name} lists a value more than once: {values}")
        if self.count_from is not None:
            before = (
                self.inits[: self.inits.index(self.count_from)] if self.count_from in self.inits else None
            )
            if before is None or any(parse_spec(s).base == "net" for s in before):
                raise ValueError(
                    f"count_from {self.count_from!r} must be one of inits, listed before the net inits"
                )
        if self.ppm_scale is not None:
            if self.count_from is not None:
                raise ValueError("ppm_scale and count_from both set the net's count; give one")
            check_ppm_scale(self.ppm_scale)
        if self.baseline not in (None, "torch"):
            raise ValueError(f"unknown baseline {self.baseline!r}; expected 'torch'")
        if self.downscale < 1 or self.fps_repeats < 1 or (self.limit is not None and self.limit < 1):
            raise ValueError(f"{self.downscale=}, {self.fps_repeats=} and {self.limit=} must be ≥ 1")

    @property
    def dataset_dir(self) -> Path:
        return resolve_dataset(self.dataset)

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if Path(self.out).is_absolute() else REPO / self.out

    @property
    def uses_net(self) -> bool:
        return any(parse_spec(s).uses_net for s in self.inits)

    def resolved(self) -> Experiment:
        """A copy with ``fit`` loaded (the shipped default when ``None``, its backend this one's)
        and ``weights`` a checked file or ``None``."""
        from igi_jax.one_image import load_config

        fit = self.fit if self.fit is not None else load_config(None)[0].fit
        fit = dataclasses.replace(fit, backend=self.backend)
        weights = self.weights
        if weights == SHIPPED:
            weights = str(shipped_weights()) if shipped_weights().exists() else None
        if weights is not None and not Path(weights).is_file():
            raise io.InputError(f"weights file not found: {weights}")
        if weights is None and self.uses_net:
            bad = [s for s in self.inits if parse_spec(s).uses_net]
            raise io.InputError(f"inits {', '.join(bad)} need network weights (--weights FILE)")
        return dataclasses.replace(self, fit=fit, weights=weights)

    def settings(self) -> dict[str, Any]:
        """What every entry depends on (a resumed run must match it); call on :meth:`resolved`."""
        if self.fit is None:
            raise ValueError("settings() of an unresolved Experiment; call resolved() first")
        skip = ("steps", "seconds", "log_every")
        return {
            "dataset": dataset_label(self.dataset_dir),
            "downscale": self.downscale,
            "steps": sorted(self.steps),
            "seconds": sorted(self.seconds),
            "fit": {k: v for k, v in dataclasses.asdict(self.fit).items() if k not in skip},
            "weights_sha256": _sha256(self.weights) if self.weights else None,
            "seed": self.seed,
            **({"count_from": self.count_from} if self.count_from else {}),
            **({"ppm_scale": self.ppm_scale} if self.ppm_scale is not None else {}),
            "backend": render_api.resolve_backend(self.backend),
            "solve_iters": SOLVE_ITERS,
            **({"seconds_blocks": SECONDS_BLOCKS} if self.seconds else {}),
        }


def _sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_experiment(path: str | os.PathLike) -> Experiment | RateDistortion:
    """The :class:`Experiment` (or :class:`~igi_jax.experiments.rd.RateDistortion`) of a config
    file's ``get_config()`` (``FILE:ARG``: ``get_config(ARG)``),
    named after the file (``stem-ARG``) unless it names itself.

    Raises:
      InputError: no such file, no ``get_config``, or it does not return an :class:`Experiment`.
    """
    from igi_jax.experiments.rd import RateDistortion

    file, arg = config_file.split_arg(path)
    exp = config_file.load(file, (Experiment, RateDistortion), arg)
    return exp if exp.name else dataclasses.replace(exp, name=Path(file).stem + (f"-{arg}" if arg else ""))
