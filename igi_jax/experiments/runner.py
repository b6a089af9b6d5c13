"""The one evaluation runner: every image × init × k (× implementation), each budget, resumable.

Every experiment goes through :class:`Runner`: a config (``configs/experiments/<name>.py``), or
``evaluate.py --dataset DIR`` flags, gives an :class:`~igi_jax.experiments.config.Experiment`.
Per entry (one image, one init, one ``k``): the init, warm (:func:`igi_jax.init.initialize_warm`),
then the fits to every budget (:func:`~igi_jax.experiments.budgets.fit_budgets`): the PSNR / SSIM /
MS-SSIM of the render at each budget, the PSNR-vs-time logs of the step fit and of the longest
seconds fit, and the render FPS of the final set. Wall-clock budgets depend on the machine and
its load: every entry records the load average, and the commit it was made with.

The images are the files in the dataset folder (sorted), optionally box-downscaled by an integer
factor. Entries are written to ``results.json`` (:mod:`igi_jax.experiments.store`) as they finish;
a second invocation skips them. ``artifacts/`` keeps, for the first ``grid_images`` images, the
PPM, points, init and final renders that :mod:`igi_jax.experiments.plots` draws.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from PIL import Image

from igi_jax import io
from igi_jax.experiments import baseline
from igi_jax.experiments.budgets import fit_budgets
from igi_jax.experiments.config import Experiment, datasets_root
from igi_jax.experiments.store import ResultStore
from igi_jax.gaussians import Gaussians
from igi_jax.init import InitResult, InitSpec, initialize, initialize_warm, parse_spec
from igi_jax.render import api as render_api

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
PARAMS_PER_GAUSSIAN = 8  # 2 position + 3 covariance + 3 colour (opacity folded in), RS or Cholesky
Log = Callable[[str], Any]


def find_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise io.InputError(f"{folder}: not a directory")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise io.InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def load_dataset_image(path: Path, downscale: int) -> np.ndarray:
    """``[H, W, 3]`` float32 in [0, 1], box-downscaled by ``downscale`` (area average)."""
    # No --max-side here: the results are for the images as they are.
    image, _ = io.load_image(
        path, huge_remedy="shrink the file first (evaluate.py reads images at full size)"
    )
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


def dataset_images(exp: Experiment) -> list[Path]:
    """The image files ``exp`` runs on, in order (``only`` and ``limit`` applied)."""
    paths = find_images(exp.dataset_dir)
    if exp.only is not None:
        missing = sorted(set(exp.only) - {p.stem for p in paths})
        if missing:
            raise io.InputError(f"{exp.dataset_dir}: no image named {', '.join(missing)}")
        paths = [p for p in paths if p.stem in exp.only]
    paths = paths[: exp.limit]
    stems = [p.stem for p in paths]
    clash = sorted({p.name for p in paths if stems.count(p.stem) > 1})
    if clash:  # entries are keyed by the stem: the second image would be skipped as done
        raise io.InputError(
            f"{exp.dataset_dir}: {', '.join(clash)} share a name; rename one or pick one with --only"
        )
    return paths


class Runner:
    """Runs an :class:`Experiment` into its ``out`` folder (``results.json`` + ``artifacts/``)."""

    def __init__(
        self,
        exp: Experiment,
        *,
        command: list[str] | None = None,
        log: Log = print,
        stop_after: float | None = None,
        allow_dirty: bool = False,
    ):
        """``stop_after``: seconds after which :meth:`run` starts no new entry (a job's time limit);
        the entries it skips are kept in :attr:`skipped` (counted by :attr:`left`), and a later run
        resumes them. ``allow_dirty``: run from a tree with uncommitted changes (its entries are
        marked ``-dirty``; :class:`~igi_jax.experiments.store.ResultStore` refuses otherwise)."""
        self.exp = exp.resolved()
        self.out, self.log = self.exp.out_dir, log
        self.stop_after, self.skipped, self.clock = stop_after, set(), time.monotonic
        self.out.mkdir(parents=True, exist_ok=True)
        self.store = ResultStore(
            self.out / "results.json", self.exp.settings(), command or [], allow_dirty=allow_dirty
        )
        if Path(self.store.data["settings"]["dataset"]).is_absolute():
            log(
                f"warning: {self.exp.dataset_dir} is outside the datasets root ({datasets_root()}) and the "
                "repository: results.json records its absolute path, so do not commit it"
            )
        self.weights = self.exp.weights  # a file, or None: no network
        self.specs = [parse_spec(s) for s in self.exp.inits]
        self.fitted = 0  # entries computed (not skipped) by this invocation
        self.failed: dict[str, str] = {}  # image name → why it could not be read (the batch goes on)

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
                if name in self.failed:
                    break
                for spec in self.specs:
                    kk = k if spec.uses_net or (spec.uses_k and self.weights is not None) else None
                    impls = ["jax"] + ([self.exp.baseline] if self.exp.baseline else [])
                    todo = [m for m in impls if not self.store.has((name, spec.name, kk, m))]
                    if not todo:
                        continue
                    if self.stop_after is not None and self.clock() - t0 >= self.stop_after:
                        self.skipped.update((name, spec.name, kk, m) for m in todo)  # a k-free init once
                        continue
                    if image is None:
                        try:
                            image = load_dataset_image(path, self.exp.downscale)
                        except io.InputError as e:  # one bad image must not cost the others
                            self.failed[name] = str(e)
                            self.log(f"evaluate.py: skipped: {e}")
                            break
                    self._entry(name, image, spec, kk, todo, keep=i < self.exp.grid_images)
        self.store.finish()
        return self.store.data

    def _net_kwargs(self, k: int | None, base: str = "net") -> dict:
        """A net-based init's arguments; the ``net`` init also takes the config's PPM scale
        (``None``: the weights' own; the config allows one only without ``count_from``)."""
        kw = {"weights": self.weights, "k": k or 3}
        return kw | {"ppm_scale": self.exp.ppm_scale} if base == "net" else kw

    def _count(self, name: str, image: np.ndarray, k: int | None) -> tuple[int, str]:
        """The random init's Gaussian count: the net's at ``k`` (the quad-tree's without weights)."""
        src = "net" if self.weights is not None else "quadtree"
        for e in self.store.entries:
            if (
                e["image"] == name
                and e["init"].split("+")[0] == src
                and e["impl"] == "jax"
                and (src == "quadtree" or e["k"] == k)
            ):
                return e["gaussians"], src
        kw = self._net_kwargs(k) if src == "net" else {}
        out = initialize(src, image, solve_colors=0, backend=self.exp.backend, **kw)
        return out.gaussians.num_live(), src

    def _entry(
        self,
        name: str,
        image: np.ndarray,
        spec: InitSpec,
        k: int | None,
        impls: list[str],
        keep: bool,
    ) -> None:
        t_start = time.perf_counter()
        count, source = self._count(name, image, k) if spec.base.startswith("random") else (None, None)
        kw = self._net_kwargs(k, spec.base) if spec.uses_net else {}
        if spec.base == "net" and self.exp.count_from is not None:  # a matched-count comparison
            source = self.exp.count_from
            kw["num_gaussians"] = next(
                e["gaussians"] for e in self.store.entries if (e["image"], e["init"]) == (name, source)
            )
        if spec.base.startswith("random"):
            kw.update(num_gaussians=count, key=jax.random.key(self.exp.seed))
        init = initialize_warm(spec, image, backend=self.exp.backend, **kw)
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
        outcome: InitResult,
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
        ppm, points = outcome.ppm, outcome.points
        if ppm is None and parse_spec(init).uses_net:  # the net's own: recomputed, untimed
            from igi_jax.init.ablations import ppm_and_points
            from igi_jax.net import load_weights_cached

            ppm, points = ppm_and_points(load_weights_cached(self.weights), image, k, self.exp.backend)
        if ppm is not None:
            arrays.update(ppm=_u8(ppm), points=np.asarray(points, np.float32))
        io.atomic_write(d / artifact_name(name, init, k, impl), lambda f: np.savez_compressed(f, **arrays))


def artifact_name(image: str, init: str, k: int | None, impl: str) -> str:
    """File name of an entry's artifacts under ``artifacts/``."""
    return f"{image}__{init}__k{k if k is not None else '-'}__{impl}.npz"


def _u8(x: Any) -> np.ndarray:
    return np.round(np.clip(np.asarray(x, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def _budget_label(budget: dict[str, Any]) -> str:
    return f"{budget['steps']} steps" if "steps" in budget else f"{budget['seconds']:g} s"
