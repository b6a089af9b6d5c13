"""The experiment loop: every image × init × k (× implementation), each budget, resumable.

Per entry (one image, one init, one ``k``): the init (warm, :func:`~igi_jax.experiments.inits.run_init`),
then one fit *from the init* to the largest step budget (:func:`igi_jax.fit.fit`), read at every
step budget (fits are deterministic, so a separate 200-step fit would be the first 200 steps of
the 2,000-step one), plus one fit per seconds budget: the PSNR / SSIM / MS-SSIM of the render at
each budget, the PSNR-vs-time logs of the step fit and of the longest seconds fit, and the render
FPS of the final set. Time = init + fitting, compilation
excluded (the paper's convention); the compile seconds are recorded separately.

Budgets in steps are exact. Budgets in seconds stop the fit at the first log point at or after
the budget, with the blocks cut to the time left (:func:`igi_jax.fit.block_steps`), so they
overshoot by about a step; the seconds actually used are recorded. (Before, a fit ran whole
:data:`SECONDS_LOG_EVERY`-step blocks and overshot by up to one: results made so have no
``seconds_blocks`` setting and are refused on resume.) Wall-clock budgets depend on the machine and its load:
every run records the load average.

The images are the files in ``dataset`` (sorted), optionally box-downscaled by an integer
factor. Entries are written to ``results.json`` (:mod:`igi_jax.experiments.store`) as they finish;
a second invocation skips them. ``artifacts/`` keeps, for the first ``grid_images`` images, the
PPM, points, init and final renders that :mod:`igi_jax.experiments.plots` draws.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from PIL import Image

from igi_jax import evaluate, io, pipeline
from igi_jax.experiments import inits as inits_lib
from igi_jax.experiments.store import ResultStore
from igi_jax.fit import FitConfig, fit
from igi_jax.gaussians import Gaussians
from igi_jax.render import api as render_api

STEP_LOG_EVERY = 100  # log interval of the step-budget fit (each budget also ends a block)
SECONDS_LOG_EVERY = 10  # steps per fit block when the budget is in seconds (the last one is cut)
SECONDS_BLOCKS = "cut to the time left"  # the settings' record of the seconds-budget rule
MAX_STEPS = 10_000_000  # the step bound of a seconds budget
# FitConfig fields added after results were recorded: left out of the settings at these (no-op)
# values, so that those results still resume.
FIT_ADDED_LATER = {"warmup_steps": 0}
PARAMS_PER_GAUSSIAN = 8  # 2 position + 3 covariance + 3 colour (opacity folded in), RS or Cholesky
Log = Callable[[str], Any]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """Everything a run measures.

    Attributes:
      dataset: folder of images.
      inits: init specs (see :mod:`igi_jax.experiments.inits`).
      kernel_sizes: dithering cells of the net-based inits.
      steps: step budgets (0 = the init alone).
      seconds: wall-clock budgets, init included.
      fit: fine-tuning config (its ``steps``/``seconds``/``log_every`` are set per budget).
      weights: network weights file (net-based inits, and the random init's count).
      baseline: ``"torch"`` adds the PyTorch GaussianImage rows, or ``None``.
      downscale: integer box-downscale of every image (1 = full size).
      limit: only the first N images.
      only: only the images with these names (file stems), e.g. a held-out split of a folder.
      fps_repeats: renders timed for the FPS.
      grid_images: images whose renders are kept for the grid plot.
      seed: random-init seed.
      backend: render backend.
      torch_threads: PyTorch intra-op threads of the baseline (``None``: its default). On a loaded
        2-core machine one thread is far faster (OpenMP threads spin-wait).
    """

    dataset: Path
    inits: tuple[str, ...] = ("net", "net+solve", "quadtree+solve", "random")
    kernel_sizes: tuple[int, ...] = (3,)
    steps: tuple[int, ...] = (0, 200, 2000)
    seconds: tuple[float, ...] = ()
    fit: FitConfig = FitConfig()
    weights: Path | None = None
    baseline: str | None = None
    downscale: int = 1
    limit: int | None = None
    only: tuple[str, ...] | None = None
    fps_repeats: int = 50
    grid_images: int = 3
    seed: int = 0
    backend: str = "auto"
    torch_threads: int | None = 1

    def __post_init__(self):
        for s in self.inits:
            inits_lib.parse_spec(s)
        if not self.steps and not self.seconds:
            raise ValueError("give at least one budget (steps or seconds)")
        if any(s < 0 for s in self.steps) or any(not t > 0 for t in self.seconds):
            raise ValueError(f"budgets must be steps ≥ 0 and seconds > 0, got {self.steps}, {self.seconds}")
        if self.baseline not in (None, "torch"):
            raise ValueError(f"unknown baseline {self.baseline!r}; expected 'torch'")
        if self.downscale < 1 or self.fps_repeats < 1:
            raise ValueError(f"{self.downscale=} and {self.fps_repeats=} must be ≥ 1")

    def settings(self) -> dict[str, Any]:
        """What every entry depends on (a resumed run must match it)."""
        fit_cfg = {
            k: v
            for k, v in dataclasses.asdict(self.fit).items()
            if k not in ("steps", "seconds", "log_every")
            and not (k in FIT_ADDED_LATER and FIT_ADDED_LATER[k] == v)
        }
        return {
            "dataset": str(self.dataset.resolve()),
            "downscale": self.downscale,
            "steps": sorted(self.steps),
            "seconds": sorted(self.seconds),
            "fit": fit_cfg,
            "weights_sha256": _sha256(self.weights) if self.weights else None,
            "seed": self.seed,
            "backend": render_api.resolve_backend(self.backend),
            "solve_iters": inits_lib.SOLVE_ITERS,
            **({"seconds_blocks": SECONDS_BLOCKS} if self.seconds else {}),
        }


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_dataset_image(path: Path, downscale: int) -> np.ndarray:
    """``[H, W, 3]`` float32 in [0, 1], box-downscaled by ``downscale`` (area average)."""
    image, _ = io.load_image(path)
    if downscale > 1:
        im = Image.fromarray(np.round(image * 255).astype(np.uint8))
        im = im.resize((im.width // downscale, im.height // downscale), Image.BOX)
        image = np.asarray(im, np.float32) / 255.0
    return image


def render_fps(g: Gaussians, repeats: int, backend: str = "auto") -> float:
    """Forward renders per second of ``g`` (positions and covariances precomputed; synchronised)."""
    means, cov = g.means(), g.covariances()
    cap = render_api.required_capacity(means, cov, g.mask, g.height, g.width, backend=backend)

    def once():
        return render_api.render(
            means, cov, g.colors, g.mask, g.height, g.width, capacity=cap, backend=backend
        )

    jax.block_until_ready(once())  # compile
    t0 = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(once())
    return repeats / (time.perf_counter() - t0)


def _budget_record(
    budget: dict[str, Any], steps: int, seconds: float, render: Any, target: np.ndarray
) -> dict[str, Any]:
    m = pipeline.image_metrics(render, target)
    return {
        "budget": budget,
        "steps": steps,
        "seconds": seconds,
        "psnr": m["psnr"],
        "ssim": m["ssim"],
        "ms_ssim": m["ms_ssim"],
    }


def fit_budgets(
    g0: Gaussians, image: np.ndarray, init_seconds: float, exp: Experiment, fit_fn: Callable[..., Any] = fit
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fit from ``g0`` once for all step budgets, and once per seconds budget.

    The step budgets are log points of one fit to the largest (fits are deterministic, so a
    separate 200-step fit would be the first 200 steps of the 2,000-step one): each budget's
    render, metrics and clock come from that fit at that step, so the clock is monotone in steps.

    ``fit_fn(g0, image, cfg, init_seconds=..., snapshots=...)`` returns an object with ``image``,
    ``history``, ``steps``, ``gaussians``, ``snapshots`` and optionally ``compile_seconds``
    (igi_jax's fit or the torch one).

    Returns:
      The budget records and ``{"history", "history_seconds", "final", "compile_seconds"}``: the
      logs of the step and the longest seconds fits and the final Gaussians of the longest fit.
    """
    records, extra = [], {"history": None, "history_seconds": None, "final": g0, "compile_seconds": 0.0}
    if exp.steps:
        steps = sorted(exp.steps)
        cfg = dataclasses.replace(exp.fit, steps=steps[-1], seconds=None, log_every=STEP_LOG_EVERY)
        res = fit_fn(g0, image, cfg, init_seconds=init_seconds, snapshots=frozenset(steps))
        extra["compile_seconds"] += getattr(res, "compile_seconds", 0.0)
        clock = {h["step"]: h["seconds"] for h in res.history}
        for s in steps:
            records.append(_budget_record({"steps": s}, s, clock[s], res.snapshots[s], image))
        if steps[-1] > 0:
            extra["history"], extra["final"] = res.history, res.gaussians
    for t in sorted(exp.seconds):
        cfg = dataclasses.replace(exp.fit, steps=MAX_STEPS, seconds=float(t), log_every=SECONDS_LOG_EVERY)
        res = fit_fn(g0, image, cfg, init_seconds=init_seconds)
        extra["compile_seconds"] += getattr(res, "compile_seconds", 0.0)
        records.append(
            _budget_record({"seconds": t}, res.steps, res.history[-1]["seconds"], res.image, image)
        )
        extra["history_seconds"] = res.history
        if not exp.steps or res.steps > max(exp.steps):
            extra["final"] = res.gaussians
    return records, extra


def dataset_images(exp: Experiment) -> list[Path]:
    """The image files ``exp`` runs on, in order (``only`` and ``limit`` applied)."""
    paths = evaluate.find_images(exp.dataset)
    if exp.only is not None:
        missing = sorted(set(exp.only) - {p.stem for p in paths})
        if missing:
            raise io.InputError(f"{exp.dataset}: no image named {', '.join(missing)}")
        paths = [p for p in paths if p.stem in exp.only]
    paths = paths[: exp.limit]
    stems = [p.stem for p in paths]
    clash = sorted({p.name for p in paths if stems.count(p.stem) > 1})
    if clash:  # entries are keyed by the stem: the second image would be skipped as done
        raise io.InputError(
            f"{exp.dataset}: {', '.join(clash)} share a name; rename one or pick one with --only"
        )
    return paths


class Runner:
    """Runs an :class:`Experiment` into ``out_dir`` (``results.json`` + ``artifacts/``)."""

    def __init__(
        self,
        exp: Experiment,
        out_dir: str | os.PathLike,
        *,
        command: list[str] | None = None,
        log: Log = print,
        stop_after: float | None = None,
    ):
        """``stop_after``: seconds after which :meth:`run` starts no new entry (a job's time limit);
        the entries it skips are kept in :attr:`skipped` (counted by :attr:`left`), and a later run
        resumes them."""
        self.exp, self.out, self.log = exp, Path(out_dir), log
        self.stop_after, self.skipped, self.clock = stop_after, set(), time.monotonic
        self.out.mkdir(parents=True, exist_ok=True)
        self.store = ResultStore(self.out / "results.json", exp.settings(), command or [])
        self.model = None
        if exp.weights is not None:
            from igi_jax.net import load_weights

            self.model = load_weights(exp.weights)
        self.specs = [inits_lib.parse_spec(s) for s in exp.inits]
        if any(s.uses_net for s in self.specs) and self.model is None:
            raise io.InputError(f"inits {[s.name for s in self.specs if s.uses_net]} need --weights")
        self.fitted = 0  # entries computed (not skipped) by this invocation

    def images(self) -> list[Path]:
        return dataset_images(self.exp)

    @property
    def left(self) -> int:
        """How many entries the last :meth:`run` skipped for ``stop_after``."""
        return len(self.skipped)

    def run(self) -> dict[str, Any]:
        """Compute every missing entry; returns the results."""
        paths = self.images()
        t0, self.skipped = self.clock(), set()
        for i, path in enumerate(paths):
            image, name = None, path.stem
            for k in self.exp.kernel_sizes:
                for spec in self.specs:
                    kk = k if spec.uses_net or (spec.uses_k and self.model is not None) else None
                    impls = ["jax"] + ([self.exp.baseline] if self.exp.baseline else [])
                    todo = [m for m in impls if not self.store.has((name, spec.name, kk, m))]
                    if not todo:
                        continue
                    if self.stop_after is not None and self.clock() - t0 >= self.stop_after:
                        self.skipped.update((name, spec.name, kk, m) for m in todo)  # a k-free init once
                        continue
                    image = load_dataset_image(path, self.exp.downscale) if image is None else image
                    self._entry(name, image, spec, kk, todo, keep=i < self.exp.grid_images)
        self.store.finish()
        return self.store.data

    def _count(self, name: str, image: np.ndarray, k: int | None) -> tuple[int, str]:
        """The random init's Gaussian count: the net's at ``k`` (the quad-tree's without weights)."""
        src = "net" if self.model is not None else "quadtree"
        for e in self.store.entries:
            if (
                e["image"] == name
                and e["init"].split("+")[0] == src
                and e["impl"] == "jax"
                and (src == "quadtree" or e["k"] == k)
            ):
                return e["gaussians"], src
        spec = inits_lib.InitSpec(src, False)
        out = inits_lib.init_once(
            spec,
            image,
            k=k or 3,
            model=self.model,
            num_gaussians=None,
            seed=self.exp.seed,
            backend=self.exp.backend,
        )
        return out.gaussians.num_live(), src

    def _entry(
        self,
        name: str,
        image: np.ndarray,
        spec: inits_lib.InitSpec,
        k: int | None,
        impls: list[str],
        keep: bool,
    ) -> None:
        t_start = time.perf_counter()
        count, source = self._count(name, image, k) if spec.base.startswith("random") else (None, None)
        init = inits_lib.run_init(
            spec,
            image,
            k=k or 3,
            model=self.model,
            num_gaussians=count,
            seed=self.exp.seed,
            backend=self.exp.backend,
        )
        n = init.gaussians.num_live()
        prior = self.store.get((name, spec.name, k, "jax"))
        if prior is not None:  # rows added later (the baseline) share the JAX row's init and clock
            if prior["gaussians"] != n:
                raise RuntimeError(
                    f"{name} {spec.name}: the init gave {n} Gaussians, the stored "
                    f"JAX entry {prior['gaussians']}; the init is not deterministic"
                )
            init = dataclasses.replace(init, seconds=prior["init_seconds"], info=prior["init_info"])
        init_wall = time.perf_counter() - t_start  # both init runs, and the count
        base = {
            "image": name,
            "init": spec.name,
            "k": k,
            "height": image.shape[0],
            "width": image.shape[1],
            "gaussians": n,
            "params": PARAMS_PER_GAUSSIAN * n,
            "init_seconds": init.seconds,
            "init_info": init.info,
            "count_source": source,
        }
        for impl in impls:
            t0 = time.perf_counter()
            if impl == "jax":
                records, extra = fit_budgets(init.gaussians, image, init.seconds, self.exp)
                fps = render_fps(extra["final"], self.exp.fps_repeats, self.exp.backend)
                final_render = np.asarray(
                    render_api.render_gaussians(extra["final"], backend=self.exp.backend)
                )
            else:
                from igi_jax.experiments import baseline

                records, extra, fps, final_render = baseline.run(
                    init.gaussians, image, init.seconds, self.exp
                )
            entry = {
                **base,
                "impl": impl,
                "budgets": records,
                "fps": fps,
                "compile_seconds": extra["compile_seconds"],
                "history": extra["history"],
                "history_seconds": extra["history_seconds"],
                # the init ran once, for every impl: count it in the first entry only
                "wall_seconds": (init_wall if impl == impls[0] else 0.0) + time.perf_counter() - t0,
                "loadavg": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                **({"torch_threads": extra["torch_threads"]} if "torch_threads" in extra else {}),
            }
            if keep and impl == "jax":
                self._artifact(name, spec.name, k, impl, image, init, final_render)
            self.store.add(entry)
            self.fitted += 1
            last = records[-1]
            self.log(
                f"{name} {spec.name} k={k} [{impl}]: {n:,} G, init {init.seconds:.2f} s, "
                f"{_budget_label(last['budget'])}: {last['psnr']:.2f} dB at {last['seconds']:.1f} s, "
                f"{fps:.1f} FPS"
            )

    def _artifact(
        self,
        name: str,
        init: str,
        k: int | None,
        impl: str,
        image: np.ndarray,
        outcome: inits_lib.InitOutcome,
        final_render: np.ndarray,
    ) -> None:
        """Save what the grid plot needs (uint8 images, the PPM, the points) for this entry."""
        d = self.out / "artifacts"
        d.mkdir(exist_ok=True)
        arrays = {
            "image": _u8(image),
            "init_render": _u8(render_api.render_gaussians(outcome.gaussians, backend=self.exp.backend)),
            "final_render": _u8(final_render),
        }
        if outcome.ppm is not None:
            arrays.update(ppm=_u8(outcome.ppm), points=np.asarray(outcome.points, np.float32))
        io.atomic_write(d / artifact_name(name, init, k, impl), lambda f: np.savez_compressed(f, **arrays))


def artifact_name(image: str, init: str, k: int | None, impl: str) -> str:
    """File name of an entry's artifacts under ``artifacts/``."""
    return f"{image}__{init}__k{k if k is not None else '-'}__{impl}.npz"


def _u8(x: Any) -> np.ndarray:
    return np.round(np.clip(np.asarray(x, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def _budget_label(budget: dict[str, Any]) -> str:
    return f"{budget['steps']} steps" if "steps" in budget else f"{budget['seconds']:g} s"
