"""The rate–distortion experiment: our ``.igi`` codec against the standard codecs, on one dataset.

A config (``configs/experiments/rd_kodak.py``) returns a :class:`RateDistortion`;
``python evaluate.py --config configs/experiments/rd_kodak.py`` runs it through the same store as
every experiment (:class:`~igi_jax.experiments.store.ResultStore`: resumable, one entry per image ×
method × target rate, each naming its commit), then writes ``report.md`` and the plots
(:mod:`igi_jax.experiments.rd_report`).

Per image and target bpp:

* ours, per init and encode budget: :func:`igi_jax.codec.compress.compress_image` with the most
  Gaussians whose file cannot exceed the target (:func:`~igi_jax.codec.compress.count_for_bpp`),
  ``fit_steps`` fit steps, then ``qat_steps`` quantisation-aware steps; the file's real size, the
  decoded render's PSNR / MS-SSIM, the encode seconds and the decode FPS (bitstream → Gaussians →
  render, warm, averaged over ``decode_repeats``);
* each standard codec (:mod:`igi_jax.codec.standard`) at the largest file within the same target,
  measured with the same metrics on the same pixels.

Entries are keyed ``(image, method, None, "<target> bpp")`` in ``results.json``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from igi_jax import io, memory
from igi_jax.codec import standard
from igi_jax.codec.quantize import QuantConfig
from igi_jax.experiments.config import REPO, _sha256, dataset_label, resolve_dataset, shipped_weights
from igi_jax.experiments.store import ResultStore

RD_INITS = ("quadtree", "net", "random")


@dataclasses.dataclass(frozen=True)
class Encode:
    """One encode budget of our codec: fit steps, then quantisation-aware steps."""

    name: str
    fit_steps: int
    qat_steps: int


@dataclasses.dataclass(frozen=True)
class RateDistortion:
    """A rate–distortion experiment (see the module docstring).

    Attributes:
      dataset: dataset folder (a name under the datasets root, or a path).
      bpps: target rates, bits per pixel.
      encodes: our codec's encode budgets.
      inits: our codec's inits (``quadtree``, ``net``, ``random``), each at every budget.
      codecs: the standard codecs measured beside it (:data:`igi_jax.codec.standard.CODECS`).
      quant: the quantisers (bit depths, codebooks); ``None``: by rate
        (:func:`igi_jax.codec.compress.quant_for_bpp`).
      fill_budget: our count fills each target's bytes at the coded size of its quantised init,
        trimmed if over (:func:`igi_jax.codec.compress.count_for_budget`); else the raw-bits bound.
      adapt_shape_lr: the codec's shape rate scaled to the count
        (:func:`igi_jax.codec.compress.shape_lr_factor`).
      weights: the net init's weights (``None``: the shipped ones).
      only, limit: a subset of the images (file stems; the first N).
      max_side: every image downscaled (Lanczos, aspect kept) so its longer side is at most this,
        for ours and the standard codecs alike; ``None``: full size.
      decode_repeats: warm decodes timed for our decode FPS.
      seed: the fit's seed.
      backend: render backend.
      out: report folder, relative to the repository.
      name, notes: the config's name and what it shows.
    """

    dataset: str
    bpps: tuple[float, ...] = (0.12, 0.25, 0.5, 1.0, 1.5)
    encodes: tuple[Encode, ...] = (Encode("fast", 1000, 300),)
    inits: tuple[str, ...] = ("quadtree",)
    codecs: tuple[str, ...] = standard.CODECS
    quant: QuantConfig | None = None
    adapt_shape_lr: bool = True
    fill_budget: bool = True
    weights: str | None = None
    only: tuple[str, ...] | None = None
    limit: int | None = None
    max_side: int | None = None
    decode_repeats: int = 3
    seed: int = 0
    backend: str = "auto"
    out: str = "out/rd"
    name: str = ""
    notes: str = ""

    def __post_init__(self):
        if not self.bpps or any(not b > 0 for b in self.bpps) or len(set(self.bpps)) < len(self.bpps):
            raise ValueError(f"bpps must be distinct rates > 0, got {self.bpps}")
        if not self.encodes or len({e.name for e in self.encodes}) < len(self.encodes):
            raise ValueError("encodes must be at least one, with distinct names")
        if any(e.fit_steps < 0 or e.qat_steps < 0 for e in self.encodes):
            raise ValueError(f"encode steps must be ≥ 0, got {self.encodes}")
        if bad := [i for i in self.inits if i not in RD_INITS]:
            raise ValueError(f"unknown inits {bad}; expected some of {RD_INITS}")
        if bad := [c for c in self.codecs if c not in standard.CODECS]:
            raise ValueError(f"unknown codecs {bad}; expected some of {standard.CODECS}")
        if self.decode_repeats < 1 or (self.limit is not None and self.limit < 1):
            raise ValueError(f"{self.decode_repeats=} and {self.limit=} must be ≥ 1")
        if self.max_side is not None and self.max_side < 16:
            raise ValueError(f"max_side must be ≥ 16 px, got {self.max_side}")

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if Path(self.out).is_absolute() else REPO / self.out

    @property
    def methods(self) -> list[str]:
        """Every curve's name: ours as ``igi-<init>-<encode>``, then the standard codecs."""
        return [f"igi-{i}-{e.name}" for i in self.inits for e in self.encodes] + list(self.codecs)

    def weights_file(self) -> str | None:
        if "net" not in self.inits:
            return None
        path = Path(self.weights) if self.weights else shipped_weights()
        if not path.is_file():
            raise io.InputError(f"weights file not found: {path}")
        return str(path)

    def quant_for(self, bpp: float, pixels: int | None = None) -> QuantConfig:
        """The quantisers at target rate ``bpp`` (on an image of ``pixels``; the settings record
        them for a large image)."""
        from igi_jax.codec.compress import quant_for_bpp

        return self.quant if self.quant is not None else quant_for_bpp(bpp, pixels)

    def settings(self) -> dict[str, Any]:
        """What every entry depends on (a resumed run must match it)."""
        from igi_jax.codec import compress as c_lib
        from igi_jax.one_image import load_config
        from igi_jax.render import api as render_api

        fit = load_config(None)[0].fit
        weights = self.weights_file()
        return {
            "kind": "rate-distortion",
            "dataset": dataset_label(resolve_dataset(self.dataset)),
            "bpps": sorted(self.bpps),
            "encodes": [dataclasses.asdict(e) for e in self.encodes],
            "quant": {str(b): dataclasses.asdict(self.quant_for(b)) for b in sorted(self.bpps)},
            "adapt_shape_lr": self.adapt_shape_lr,
            "fill_budget": self.fill_budget,
            "fit": {k: v for k, v in dataclasses.asdict(fit).items() if k not in ("steps", "seconds")},
            # Runs before this key fitted with FitConfig()'s rates (× 1, no warm-up) while recording
            # the config's above: they must not resume under the config's.
            "fit_follows_config": True,
            # Files past their budget are trimmed between the quantisation-aware blocks from this
            # share of them on (1: only after them, the encoder before b83076e).
            "qat_trim_from": c_lib.QAT_TRIM_FROM,
            "weights_sha256": _sha256(weights) if weights else None,
            "seed": self.seed,
            "backend": render_api.resolve_backend(self.backend),
            # Only where set, so the runs made before the field existed still resume.
            **({"max_side": self.max_side} if self.max_side is not None else {}),
        }


def dataset_images(exp: RateDistortion) -> list[Path]:
    """The image files ``exp`` runs on, in order (``only`` and ``limit`` applied)."""
    from igi_jax.experiments.runner import find_images

    paths = find_images(resolve_dataset(exp.dataset))
    if exp.only is not None:
        paths = [p for p in paths if p.stem in exp.only]
    return paths[: exp.limit]


def target_label(bpp: float) -> str:
    return f"{bpp:g} bpp"


class RDRunner:
    """Runs a :class:`RateDistortion` into its ``out`` folder (``results.json``)."""

    def __init__(
        self,
        exp: RateDistortion,
        *,
        command: list[str] | None = None,
        log: Callable[[str], Any] = print,
        stop_after: float | None = None,
        allow_dirty: bool = False,
    ):
        self.exp, self.log, self.stop_after = exp, log, stop_after
        self.out = exp.out_dir
        self.out.mkdir(parents=True, exist_ok=True)
        self.store = ResultStore(
            self.out / "results.json", exp.settings(), command or [], allow_dirty=allow_dirty
        )
        self.weights = exp.weights_file()
        self.fitted, self.left, self.failed = 0, 0, {}

    def images(self) -> list[Path]:
        return dataset_images(self.exp)

    def run(self) -> dict[str, Any]:
        """Compute every missing entry: the standard codecs first (seconds per image), then each of
        our methods over every image in turn, so an interrupted run leaves whole curves."""
        t0, self.left = time.monotonic(), 0
        paths = self.images()
        ours = [m for m in self.exp.methods if m.startswith("igi-")]
        todo = [(p, m) for p in paths for m in self.exp.codecs] + [(p, m) for m in ours for p in paths]
        for path, method in todo:
            for bpp in self.exp.bpps:
                if path.stem in self.failed or self.store.has((path.stem, method, None, target_label(bpp))):
                    continue
                if self.stop_after is not None and time.monotonic() - t0 >= self.stop_after:
                    self.left += 1
                    continue
                try:
                    entry = self._entry(path, method, bpp)
                except io.InputError as e:  # one bad image must not cost the others
                    self.failed[path.stem] = str(e)
                    self.log(f"evaluate.py: skipped {path.name}: {e}")
                    continue
                self.store.add(entry)
                self.fitted += 1
                ms = "n/a" if entry["ms_ssim"] is None else f"{entry['ms_ssim']:.4f}"  # sides ≤ 160 px
                self.log(
                    f"{path.stem} {method} {bpp:g} bpp: {entry['bpp']:.3f} bpp, {entry['psnr']:.2f} dB, "
                    f"MS-SSIM {ms}, encode {entry['encode_seconds']:.1f} s"
                )
        self.store.finish()
        return self.store.data

    def _entry(self, path: Path, method: str, bpp: float) -> dict[str, Any]:
        base = {"image": path.stem, "init": method, "k": None, "impl": target_label(bpp), "target_bpp": bpp}
        if method.startswith("igi-"):
            return {**base, **self._ours(path, method, bpp)}
        image, _ = io.load_image(path, max_side=self.exp.max_side, huge_remedy="shrink the file first")
        u8 = np.round(image * 255).astype(np.uint8)
        t0 = time.perf_counter()
        enc = standard.encode_at_bpp(method, u8, bpp)
        t1 = time.perf_counter()
        for _ in range(self.exp.decode_repeats):
            standard._decode(method, enc.data)
        t2 = time.perf_counter()
        return {
            **base,
            "bpp": enc.bpp,
            "bytes": len(enc.data),
            "setting": enc.setting,
            **_metrics(enc.decoded.astype(np.float32) / 255.0, image),
            "encode_seconds": t1 - t0,  # the search for the rate included
            "decode_fps": self.exp.decode_repeats / (t2 - t1),
            "loadavg": os.getloadavg()[0],
        }

    def _ours(self, path: Path, method: str, bpp: float) -> dict[str, Any]:
        import jax

        from igi_jax.codec import compress as c_lib
        from igi_jax.render import render_gaussians

        _, init, budget = method.split("-", 2)
        enc = next(e for e in self.exp.encodes if e.name == budget)
        h, w = memory.scaled_size(*io.image_size(path), self.exp.max_side)
        quant = self.exp.quant_for(bpp, h * w)
        n = c_lib.count_for_bpp(bpp, h, w, quant)
        budget = c_lib.budget_for_bpp(bpp, h, w) if self.exp.fill_budget else None
        weights = self.weights if init == "net" else None
        fit = c_lib.default_fit().replace(  # igi compress's, as settings() records
            init=init,
            seed=self.exp.seed,
            weights=weights,
            num_gaussians=n,
            steps=enc.fit_steps,
            backend=self.exp.backend,
        )
        run = c_lib.compress_image(
            path,
            c_lib.CompressOptions(
                fit=fit,
                quant=quant,
                qat_steps=enc.qat_steps,
                adapt_shape_lr=self.exp.adapt_shape_lr,
                budget_bytes=budget,
            ),
            max_side=self.exp.max_side,
        )
        t0 = time.perf_counter()
        for _ in range(self.exp.decode_repeats):  # warm: the first decode ran inside compress_image
            jax.block_until_ready(render_gaussians(c_lib.decompress(run.data), backend=self.exp.backend))
        info = run.info
        return {
            "bpp": info["bpp"],
            "bytes": info["bytes"],
            "gaussians": info["gaussians"],
            "psnr": info["psnr"],
            "ms_ssim": info["ms_ssim"],
            "psnr_unquantized": info["psnr_unquantized"],
            "fit_steps": info["fit_steps"],
            "qat_steps": info["qat_steps"],
            "shape_lr_factor": info["shape_lr_factor"],
            "count_bound": info.get("count_bound", n),
            "trimmed": info.get("trimmed", 0),
            "trimmed_before_qat": info.get("trimmed_before_qat", 0),
            "trimmed_during_qat": info.get("trimmed_during_qat", 0),
            "codebook": quant.codebook,
            "encode_seconds": info["encode_seconds"],
            "decode_fps": self.exp.decode_repeats / (time.perf_counter() - t0),
            "loadavg": os.getloadavg()[0],
        }


def _metrics(decoded: np.ndarray, image: np.ndarray) -> dict[str, float]:
    from igi_jax.metrics import image_metrics

    m = image_metrics(decoded, image)
    return {"psnr": float(m["psnr"]), "ms_ssim": None if m["ms_ssim"] is None else float(m["ms_ssim"])}
