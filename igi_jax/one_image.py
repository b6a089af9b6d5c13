"""One image, end to end: load → init → fit → metrics → outputs.

Shared by the ``igi`` CLI, ``train.py`` and ``evaluate.py``, so all three fit the same way and
write the same files. Options come from a config file (``configs/*.py`` with ``get_config()``)
and/or flags; :class:`FitOptions` is what both resolve to.

Outputs of one fit (:func:`fit_writers`, written all-or-nothing by
:meth:`igi_jax.outdir.OutputDir.write`): ``gaussians.npz`` (:mod:`igi_jax.gaussians_file` format),
``render.png``, ``metrics.json`` and ``psnr_vs_time.png``. (Not to be confused with
:mod:`igi_jax.data.pipeline`, the network's grain input pipeline.)
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import numbers
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from igi_jax import compile_cache, config_file, gaussians_file, io, memory, plot
from igi_jax.fit import FitConfig, FitResult, fit
from igi_jax.gaussians import KINDS
from igi_jax.init import INITS, InitResult, initialize
from igi_jax.init.choices import MAX_GAUSSIANS, MAX_SHRINK, NET_FINETUNE_SHRINK
from igi_jax.metrics import image_metrics
from igi_jax.render import api as render_api

RANDOM_INITS = tuple(name for name in INITS if name.startswith("random"))
COUNTED_INITS = ("quadtree", "net")  # content-adaptive inits that also take an exact count
DEFAULT_INIT = "quadtree" if "quadtree" in INITS else INITS[0]  # until the network init exists
DEFAULT_STEPS = 2000
UNLIMITED_STEPS = 10**9  # the step budget of a time-limited fit (--seconds): time is the only limit
DEFAULT_CONFIG_MODULE = "configs.fit_default"
MAX_PER_PIXEL = 50  # more Gaussians than this per pixel is a typo, not an experiment
PIXELS_PER_RANDOM_GAUSSIAN = 10  # default random-init count: one Gaussian per 10 pixels
MAX_SEED = 2**63 - 1  # what jax.random.key takes
MAX_SOLVE_ITERS = 10_000  # CG iterations; the solve has converged long before
OUTPUT_FILES = ("gaussians.npz", "render.png", "metrics.json", "psnr_vs_time.png")
_FIT_FIELDS = {f.name for f in dataclasses.fields(FitConfig)}


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """Everything that decides a fit: the init and the optimiser settings."""

    init: str = DEFAULT_INIT
    num_gaussians: int | None = None  # random inits (None → one per 10 pixels) and quadtree (None: its own)
    kind: str = "rs"
    seed: int = 0
    solve_colors: int | None = None  # CG iterations of the init's colour solve; None = init default
    weights: str | None = None  # net init only: weights file or orbax dir; None = shipped
    kernel_size: int = 3  # net init only: dithering cell size (3, 4 or 5)
    net_shrink: float | None = None  # net init only: std-dev factor; None: see net_shrink()
    fit: FitConfig = FitConfig(steps=DEFAULT_STEPS)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {KINDS}")
        _check_int("seed", self.seed, 0, MAX_SEED)
        if self.solve_colors is not None:
            _check_int("solve_colors", self.solve_colors, 0, MAX_SOLVE_ITERS)
        if self.net_shrink is not None and not (
            isinstance(self.net_shrink, numbers.Real) and 0 < self.net_shrink <= MAX_SHRINK
        ):
            raise ValueError(f"net_shrink must be a number in (0, {MAX_SHRINK:g}], got {self.net_shrink!r}")

    def replace(self, **changes: Any) -> FitOptions:
        """Copy with ``changes``; keys naming :class:`FitConfig` fields go to ``fit``."""
        fit_changes = {k: changes.pop(k) for k in list(changes) if k in _FIT_FIELDS}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise io.InputError(f"unknown fit options {sorted(unknown)}")
        if "lr_groups" in fit_changes and isinstance(fit_changes["lr_groups"], Mapping):
            fit_changes["lr_groups"] = tuple(fit_changes["lr_groups"].items())
        try:
            return dataclasses.replace(self, fit=dataclasses.replace(self.fit, **fit_changes), **changes)
        except (TypeError, ValueError) as e:
            raise io.InputError(str(e)) from None


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low:,}, {high:,}], got {value:,}")


# ---------------------------------------------------------------------------------------------
# Configs


def _as_dict(obj: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "to_dict"):  # ml_collections.ConfigDict
        return dict(obj.to_dict())
    if isinstance(obj, Mapping):
        return dict(obj)
    raise io.InputError(f"get_config() returned a {type(obj).__name__}; expected a dataclass or mapping")


def options_from_config(cfg: Any, base: FitOptions = FitOptions()) -> tuple[FitOptions, list[str]]:
    """Map a config object onto :class:`FitOptions`.

    Accepts a dataclass (e.g. :class:`FitConfig` itself), a ConfigDict or a mapping; a nested
    ``fit`` entry is merged. Keys that mean nothing to a fit (e.g. network settings of later
    configs) are returned as notes instead of failing.
    """
    flat = _as_dict(cfg)
    nested = flat.pop("fit", None)
    if nested is not None:
        flat.update(_as_dict(nested))
    if "gaussians" in flat:
        flat.setdefault("num_gaussians", flat.pop("gaussians"))
    known = _FIT_FIELDS | {f.name for f in dataclasses.fields(FitOptions)}
    ignored = sorted(set(flat) - known)
    options = base.replace(**{k: v for k, v in flat.items() if k in known})
    return options, [f"config keys not used by a fit: {ignored}"] if ignored else []


def load_config(path: str | os.PathLike | None = None) -> tuple[FitOptions, list[str]]:
    """Options from a config file's ``get_config()``; ``None`` → ``configs/fit_default.py`` if present.

    Raises:
      InputError: the file is missing, does not define ``get_config``, or sets invalid values.
    """
    if path is None:
        try:
            module = importlib.import_module(DEFAULT_CONFIG_MODULE)
        except ModuleNotFoundError as e:
            if e.name not in ("configs", DEFAULT_CONFIG_MODULE):
                raise
            return FitOptions(), []
        label = DEFAULT_CONFIG_MODULE
    else:
        module, label = config_file.load_module(path), str(path)
    cfg = config_file.call_get_config(module, label)  # its type is checked by options_from_config
    try:
        return options_from_config(cfg)
    except io.InputError as e:
        raise io.InputError(f"{label}: {e}") from None


# ---------------------------------------------------------------------------------------------
# Fitting


def check_gaussian_count(n: int, height: int | None = None, width: int | None = None) -> None:
    """Reject counts that cannot be meant: < 1, > 4,000,000, or > 50 per pixel (if size given)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise io.InputError(f"the number of Gaussians must be an integer, got {n!r}")
    if n < 1:
        raise io.InputError(f"the number of Gaussians must be at least 1, got {n}")
    if n > MAX_GAUSSIANS:
        raise io.InputError(f"{n:,} Gaussians exceeds the limit of {MAX_GAUSSIANS:,}")
    if height is not None and width is not None and n > MAX_PER_PIXEL * height * width:
        raise io.InputError(
            f"{n:,} Gaussians for a {width}×{height} image is more than {MAX_PER_PIXEL} per pixel"
        )


@dataclasses.dataclass
class FitRun:
    """A finished fit of one image, ready to be written (:func:`fit_writers`)."""

    image_path: Path
    target: np.ndarray  # [H, W, 3] float32 in [0, 1]
    notes: list[str]
    options: FitOptions
    init: InitResult
    result: FitResult
    metrics: dict[str, Any]
    wall_seconds: float

    def summary(self) -> dict[str, Any]:
        """The ``metrics.json`` payload (times in seconds; ``total`` = init + compile + fit).

        ``compile_seconds`` = ``init_compile_seconds`` (the colour solve's) +
        ``fit_compile_seconds``; ``init_seconds`` and the history's clock exclude both.
        """
        r, o = self.result, self.options
        h, w = self.target.shape[:2]
        init_compile = float(self.init.info.get("compile_seconds", 0.0))
        compile_seconds = init_compile + r.compile_seconds
        return {
            **self.metrics,
            "num_gaussians": r.gaussians.num_live(),
            "steps": r.steps,
            "init": o.init,
            "init_seconds": r.init_seconds,
            "compile_seconds": compile_seconds,
            "init_compile_seconds": init_compile,
            "fit_compile_seconds": r.compile_seconds,
            "fit_seconds": r.fit_seconds,
            "total_seconds": r.init_seconds + compile_seconds + r.fit_seconds,
            "wall_seconds": self.wall_seconds,
            "image": {"path": str(self.image_path.resolve()), "height": h, "width": w},
            "options": {
                "kind": o.kind,
                "seed": o.seed,
                "solve_colors": o.solve_colors,
                **(
                    {
                        "weights": str(o.weights or "shipped"),
                        "kernel_size": o.kernel_size,
                        "net_shrink": net_shrink(o),
                    }
                    if o.init == "net"
                    else {}
                ),
                "num_gaussians": o.num_gaussians,
                **dataclasses.asdict(o.fit),
                # The step budget: none with --seconds (the steps run are the top-level "steps").
                **({"steps": None} if o.fit.steps >= UNLIMITED_STEPS else {}),
            },
            "init_info": {k: v for k, v in self.init.info.items() if np.ndim(v) == 0},
            "notes": self.notes,
            "history": r.history,
        }


def init_kwargs(options: FitOptions, height: int, width: int) -> dict[str, Any]:
    """The keyword arguments of :func:`igi_jax.init.initialize` for ``options`` on an image of this
    size (:class:`io.InputError` for a count the init cannot take)."""
    kwargs: dict[str, Any] = {"kind": options.kind, "key": jax.random.key(options.seed)}
    if options.init in RANDOM_INITS:
        n = options.num_gaussians
        n = max(1, height * width // PIXELS_PER_RANDOM_GAUSSIAN) if n is None else n
        check_gaussian_count(n, height, width)
        kwargs["num_gaussians"] = n
    elif options.init in COUNTED_INITS and options.num_gaussians is not None:
        check_gaussian_count(options.num_gaussians, height, width)
        kwargs["num_gaussians"] = options.num_gaussians
    elif options.num_gaussians is not None:
        raise io.InputError(
            f"init {options.init!r} chooses its own number of Gaussians; a count "
            f"applies only to {', '.join((*RANDOM_INITS, *COUNTED_INITS))}"
        )
    params = inspect.signature(initialize).parameters
    if options.solve_colors is not None:
        if options.solve_colors < 0:
            raise io.InputError(f"solve_colors must be ≥ 0 iterations, got {options.solve_colors}")
        if "solve_colors" not in params:
            raise io.InputError("this version of igi_jax.init has no colour solve (solve_colors)")
        kwargs["solve_colors"] = options.solve_colors
    if "backend" in params:
        kwargs["backend"] = options.fit.backend
    if options.init == "net":
        kwargs.update(weights=_net_weights(options), k=options.kernel_size, shrink=net_shrink(options))
    return kwargs


def net_shrink(options: FitOptions) -> float:
    """The net init's std-dev factor: as set; else, when the fit fine-tunes, the factor the weights
    file records (:func:`igi_jax.net.weights.finetune_shrink`) or
    :data:`igi_jax.init.choices.NET_FINETUNE_SHRINK`; else the network's own widths."""
    if options.net_shrink is not None:
        return float(options.net_shrink)
    if options.fit.steps == 0:
        return 1.0
    from igi_jax.net.weights import finetune_shrink

    recorded = finetune_shrink(_net_weights(options))
    return NET_FINETUNE_SHRINK if recorded is None else recorded


def _net_weights(options: FitOptions) -> Path:
    """The net init's weights, checked before any compile (a user error, not a crash)."""
    from igi_jax.net import resolve_weights

    try:
        return resolve_weights(options.weights)
    except (ValueError, FileNotFoundError) as e:
        raise io.InputError(str(e)) from None


def check_options(options: FitOptions) -> None:
    """Validate what can be checked before reading the image (fail fast, before any compile)."""
    if options.init not in INITS:
        raise io.InputError(f"unknown init {options.init!r}; expected one of {INITS}")
    if options.num_gaussians is not None:
        check_gaussian_count(options.num_gaussians)  # the per-pixel limit is checked after loading
    if options.init != "net" and (options.weights is not None or options.net_shrink is not None):
        raise io.InputError(f"--weights and --net-shrink apply to --init net only, not {options.init!r}")
    if options.solve_colors is not None and options.solve_colors < 0:
        raise io.InputError(f"solve_colors must be ≥ 0 iterations, got {options.solve_colors}")
    if options.kernel_size not in (3, 4, 5):
        raise io.InputError(f"kernel size must be 3, 4 or 5, got {options.kernel_size!r}")
    if options.init == "net":
        _net_weights(options)
    check_backend(options.fit.backend)


def check_memory(height: int, width: int, options: FitOptions) -> None:
    """Refuse a fit that the memory model (:mod:`igi_jax.memory`) puts above the available memory."""
    have = memory.available_bytes()
    if have is None:
        return
    random = options.init in RANDOM_INITS
    n = (options.num_gaussians or max(1, height * width // PIXELS_PER_RANDOM_GAUSSIAN)) if random else None
    canvas = compile_cache.canvas_size(height, width)
    need = memory.estimate_bytes(canvas[0] * canvas[1], options.init, n)
    if need <= have:
        return
    side = memory.largest_side(height, width, options.init, have, n)
    remedy = f"downscale it on load with --max-side {side} (or smaller)" if side >= 16 else "free some memory"
    if random:
        remedy += " or use fewer Gaussians (--gaussians)"
    source = f"${memory.ENV_VAR}" if os.environ.get(memory.ENV_VAR) else "available now"
    raise io.InputError(
        f"a {options.init} fit of this {width}×{height} image needs about "
        f"{need / memory.GB:.1f} GB of memory, more than the {have / memory.GB:.1f} GB "
        f"{source}; {remedy}"
    )


def check_backend(backend: str) -> None:
    """Reject unknown backends, and Pallas without a GPU (its compile error would be cryptic)."""
    if render_api.resolve_backend(backend) == "pallas" and jax.default_backend() != "gpu":
        raise io.InputError("backend 'pallas' needs a GPU; on CPU use 'reference' or 'pallas-interpret'")


def fit_image(
    path: str | os.PathLike,
    options: FitOptions = FitOptions(),
    *,
    max_side: int | None = None,
    on_start: Callable[[np.ndarray, list[str]], Any] | None = None,
    on_init: Callable[[InitResult], Any] | None = None,
    callback: Callable[[dict[str, float]], Any] | None = None,
) -> FitRun:
    """Load ``path``, initialise, fit and measure. Nothing is written.

    Args:
      path: image file.
      options: init + optimiser settings.
      max_side: downscale the image on load so that its longer side is at most this (pixels).
      on_start: called with the image and its conversion notes once both it and the options
        passed validation, before the init.
      on_init: called with the :class:`InitResult` before compiling the fit.
      callback: called with every history entry (see :func:`igi_jax.fit.fit`).
    """
    t0 = time.perf_counter()
    check_options(options)
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 2):
        raise io.InputError(f"max_side must be an integer ≥ 2 pixels, got {max_side!r}")
    check_memory(*memory.scaled_size(*io.image_size(path), max_side), options)  # before decoding
    target, notes = io.load_image(path, max_side=max_side)
    height, width = target.shape[:2]
    kwargs = init_kwargs(options, height, width)
    if on_start:
        on_start(target, notes)
    init = initialize(options.init, target, **kwargs)
    if on_init:
        on_init(init)
    result = fit(init.gaussians, target, options.fit, init_seconds=init.seconds, callback=callback)
    metrics = image_metrics(result.image, target)
    return FitRun(
        image_path=Path(path),
        target=target,
        notes=notes,
        options=options,
        init=init,
        result=result,
        metrics=metrics,
        wall_seconds=time.perf_counter() - t0,
    )


# ---------------------------------------------------------------------------------------------
# Outputs and re-rendering


def fit_writers(run: FitRun) -> dict[str, io.Writer]:
    """The four output files of a fit, as writers for :func:`igi_jax.io.write_outputs`."""
    summary = run.summary()
    meta = {k: summary[k] for k in ("init", "steps", "psnr", "ms_ssim", "image")}
    title = f"{run.image_path.name}: {run.options.init} init, {summary['num_gaussians']:,} Gaussians"
    return {
        "gaussians.npz": gaussians_file.gaussians_writer(run.result.gaussians, **meta),
        "render.png": io.png_writer(np.asarray(run.result.image)),
        "metrics.json": io.json_writer(summary),
        "psnr_vs_time.png": lambda f: plot.write_psnr_plot(f, run.result.history, title=title),
    }
