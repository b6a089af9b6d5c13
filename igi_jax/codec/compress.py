"""Encode an image into a ``.igi`` file and decode one: init → fit → quantisation-aware steps →
entropy-coded bitstream, and back.

    run = compress_image("kodim23.png", CompressOptions(fit=default_fit().replace(init="quadtree")))
    run.data            # the file's bytes; run.info: bytes, bpp, decoded PSNR / MS-SSIM, seconds
    g = decompress(run.data)   # the decoded Gaussians (render them at any scale)

The reported rate is the file's real size: ``bpp = 8 · len(data) / (H · W)``, nothing estimated.
The metrics are those of the *decoded* file's render, not of the encoder's float state.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from igi_jax.codec import bitstream
from igi_jax.codec import qat as qat_lib
from igi_jax.codec import quantize as q_lib
from igi_jax.gaussians import Gaussians, compact
from igi_jax.init import rate
from igi_jax.metrics import image_metrics
from igi_jax.one_image import FitOptions, fit_image, load_config

DEFAULT_QAT_STEPS = 500
# The default fit's rates were tuned at ~5.4 pixels per Gaussian (configs/fit_default.py: photos
# 002 and 013 at 384 px). A codec's counts leave 10-500 pixels per Gaussian: Gaussians that many
# times wider, whose Cholesky factors (pixels) move by ~the rate per step, so the shape rate grows
# with the typical width. Training photos 021 / 007 at 768 px, 1,000 quad-tree fit steps, PSNR
# default → scaled: 23.36 → 25.00 (1,000 G, ×8), 26.38 → 28.81 (3,473 G, ×5.0), 17.08 → 17.53
# (1,000 G, ×8), 19.80 → 20.16 dB (8,000 G, ×3.3).
TUNED_PIXELS_PER_GAUSSIAN = 5.4
MAX_SHAPE_LR_FACTOR = 8.0
# A budget's count aims at this share of it at the bytes per Gaussian its init codes to. A fitted
# set codes up to ~5 % longer than its init; the trim before the quantisation-aware steps
# (PRE_TRIM_SHARE) then drops the Gaussians of least energy, which costs less than fitting fewer.
# Held-out photos 043-048 at 640 px, 1,000 + 300 steps, decoded dB from 0.94 to 0.99: the net
# +0.11 on the mean at 0.25 and 0.5 bpp (9 of 10 ahead; 0.94 left 3-5 % of its budgets unused);
# the quad-tree +0.11 at 0.5 bpp (5 of 5), level at 0.12 (0.00, 3 of 5).
# bench/results/codec_fill_margin.md (python bench/codec_fill_margin.py).
FILL_MARGIN = 0.99
# The share of a budget a fitted set is trimmed to before the quantisation-aware steps, which
# lengthen its file by ~1-1.5 %. Training photos 001-003 at 640 px, 1,000 + 300 steps: trimming
# only after those steps (which cannot fine-tune the rest) 25.81 / 27.67 / 30.15 dB at 0.25 / 0.5 /
# 1 bpp; trimming before them too (with footprint-weighted codebooks that learn from the image)
# 25.93 / 27.91 / 30.33, a few Gaussians still trimmed after; to this share first, 27.94 / 30.31
# at 0.5 / 1 bpp, none.
PRE_TRIM_SHARE = 0.985
# From this share of the quantisation-aware steps on, a file past its budget is trimmed at the end
# of each block, so that the steps left fine-tune the Gaussians that stay; the trim after the last
# step (which nothing fine-tunes) then has little or nothing left to drop. Held-out photos 043-048
# at 640 px, the net's init, 4,000 + 1,000 steps, 0.5 bpp: +0.02 dB on the mean (+0.10 on 043, the
# one file past its budget; the rest unchanged), and with a fill margin of 1.04 +0.05 where
# trimming only after the steps gave −0.04 (bench/results/codec_qat_trim_long.md).
QAT_TRIM_FROM = 0.5
# Colour codebook entries per stage by target rate (bpp below the bound → entries), from
# bench/results/codec_sweep_rate.md (training photos 001-003 at 640 px, 1,000 + 300 steps): 2 × 16
# is level with 2 × 8 up to 0.5 bpp (+0.1 / +0.05 dB), 2 × 32 ahead from 1 bpp (+0.38 / +0.68 dB).
# Covariances stay at 6 bits: 5 lost 0.18 / 0.72 dB at 0.25 / 1 bpp with the grid-coded positions
# (bench/results/codec_sweep_shape_bits_grid.md); 7 gave +0.07 / +0.21 dB at 1 / 1.5 bpp with fp16
# positions, one photo each way (bench/results/codec_sweep_shape_bits.md).
RATE_CODEBOOKS = ((0.75, 16), (math.inf, 32))
# The position grid by target rate (bpp below the bound → 2^-p px), from
# bench/results/codec_sweep_subpixel.md (same photos and steps): 1/4 px is best at 0.25 bpp
# (+0.06 / +0.05 dB over 1/2 and 1/8), 1/8 px at 1 bpp (+0.22 dB over 1/4, 3 of 3 photos), where
# the Gaussians are ~2.2× closer together. At 0.5 bpp, from the shipped net at the shipped fit
# rates, 1/8 px +0.06 dB over 1/4 (3 of 3; bench/results/codec_sweep_subpixel_05.md).
RATE_SUBPIXEL = ((0.5, 2), (math.inf, 3))
# The covariances' companding knee by target rate (bpp below the bound → knee, px; None: linear),
# from bench/results/codec_sweep_knee.md (training photos 001-003 at 640 px, the shipped fit, the
# net's init; 0.12 bpp from the quad-tree): asinh(v / 1 px) +0.17 dB at 0.25 bpp (3 of 3), level
# at 0.12 (+0.01) and 0.5 (−0.01 with 1,000 + 300 steps, +0.05 with 4,000 + 1,000): its symbols
# code ~0.5 bit longer, which costs 3-5 % of the count, and buys equal-ratio steps for the sharp
# Gaussians.
RATE_SHAPE_KNEE = ((0.5, 1.0), (math.inf, None))
# The init for a target rate when none is chosen: the shipped network from this rate up, the
# quad-tree below. From configs/experiments/rd_heldout.py (the 5 held-out photos at 640 px, fast
# budget, 7eeb2d9), net minus quad-tree: -0.15 dB at 0.12 bpp (1 of 5 ahead), +0.21 at 0.25 (4 of
# 5), +0.30 to +0.36 from 0.5 to 1.5 (4 of 5); the crossing is ~0.16 bpp on log-rate (also at
# 43e0a81; ~0.20 with 96f5c55's encoder at FitConfig()'s rates, ~0.17 at 0ccc84d).
NET_INIT_FROM_BPP = 0.2


def quant_for_bpp(bpp: float, pixels: int | None = None) -> q_lib.QuantConfig:
    """The quantisers for a target rate: GaussianImage's 6-bit covariances and 2-stage colour VQ,
    with the codebook and the position grid finer as the rate grows (:data:`RATE_CODEBOOKS`,
    :data:`RATE_SUBPIXEL`), the covariances companded below 0.5 bpp (:data:`RATE_SHAPE_KNEE`).
    On an image of ``pixels`` so small that the codebooks would take over 1/8 of the budget, they
    halve, down to 8 entries."""
    codebook = next(k for below, k in RATE_CODEBOOKS if bpp < below)
    subpixel = next(p for below, p in RATE_SUBPIXEL if bpp < below)
    knee = next(k for below, k in RATE_SHAPE_KNEE if bpp < below)
    cfg = q_lib.QuantConfig(codebook=codebook, xy_subpixel=subpixel, shape_knee=knee)
    while pixels is not None and cfg.codebook > 8 and cfg.stages * cfg.codebook * 6 > bpp * pixels / 64:
        cfg = dataclasses.replace(cfg, codebook=cfg.codebook // 2)
    return cfg


def init_for_bpp(bpp: float) -> str:
    """The codec's init for a target rate: ``net`` from :data:`NET_INIT_FROM_BPP`, else ``quadtree``."""
    return "net" if bpp >= NET_INIT_FROM_BPP else "quadtree"


def shape_lr_factor(height: int, width: int, count: int) -> float:
    """The codec's factor on the shape rate: ``sqrt(pixels per Gaussian / 5.4)`` in [1, 8]."""
    ratio = height * width / max(int(count), 1) / TUNED_PIXELS_PER_GAUSSIAN
    return float(min(MAX_SHAPE_LR_FACTOR, max(1.0, ratio**0.5)))


def with_shape_lr(options: FitOptions, height: int, width: int) -> tuple[FitOptions, float]:
    """``options`` with the shape rate scaled for its count (:func:`shape_lr_factor`); unchanged
    when the init picks its own count."""
    if options.num_gaussians is None:
        return options, 1.0
    factor = shape_lr_factor(height, width, options.num_gaussians)
    groups = dict(options.fit.lr_groups)
    groups["shape"] = groups.get("shape", 1.0) * factor
    return options.replace(lr_groups=tuple(groups.items())), factor


def default_fit() -> FitOptions:
    """The codec's fit: ``igi compress``'s, the shipped ``configs/fit_default.py`` (rates × 3 per
    group, a 10-step warm-up) with GaussianImage's codec parameterisation (Cholesky).

    Against ``FitConfig()``'s rates (× 1, no warm-up), which the codec's benchmarks and Kodak runs
    used before b8aa5b6, from the shipped net on training photos 001-003 at 640 px, 0.25 / 0.5 bpp
    (``bench/results/codec_sweep_fit.md``): +0.61 / +0.72 dB decoded with 1,000 + 300 steps;
    +0.07 at 0.5 bpp with 4,000 + 1,000 (``codec_sweep_fit_long.md``), where the fit gains 0.28
    and the quantisers lose 0.21 of it. Doubling the rates again gave +0.16 / +0.12 more at 1,000
    steps but −0.24 at 4,000, so the shipped rates stay. Halving them every 250 of 1,000 steps
    lost 0.9 dB at 0.5 bpp (FitConfig()'s rates, same photos): these fits are far from converged.
    """
    return load_config(None)[0].replace(kind="cholesky")


@dataclasses.dataclass(frozen=True)
class CompressOptions:
    """The encoder's settings: the fit (init, count, steps or seconds) and the quantisation."""

    fit: FitOptions = dataclasses.field(default_factory=default_fit)
    quant: q_lib.QuantConfig = q_lib.QuantConfig()
    qat_steps: int = DEFAULT_QAT_STEPS
    adapt_shape_lr: bool = True  # scale the shape rate to the count (:func:`shape_lr_factor`)
    # A file of at most this many bytes: the count fills it (:func:`count_for_budget`) and the
    # Gaussians of least energy are dropped if the file would exceed it (:func:`encode_within`).
    budget_bytes: int | None = None

    def __post_init__(self):
        if isinstance(self.qat_steps, bool) or not isinstance(self.qat_steps, int) or self.qat_steps < 0:
            raise ValueError(f"qat_steps must be an integer ≥ 0, got {self.qat_steps!r}")
        if self.budget_bytes is not None and not (
            isinstance(self.budget_bytes, int) and self.budget_bytes > 0
        ):
            raise ValueError(f"budget_bytes must be a positive integer, got {self.budget_bytes!r}")


@dataclasses.dataclass
class CompressRun:
    """An encoded image: the file's bytes and what was measured on its decoded render."""

    data: bytes
    image: np.ndarray  # [H, W, 3] the decoded render
    info: dict[str, Any]


def budget_for_bpp(bpp: float, height: int, width: int) -> int:
    """The bytes a file of ``bpp`` bits per pixel may take."""
    return int(bpp * height * width // 8)


def count_for_bpp(bpp: float, height: int, width: int, quant: q_lib.QuantConfig) -> int:
    """The most Gaussians whose ``.igi`` file is at most ``bpp`` bits per pixel even without
    entropy coding (:func:`bitstream.max_bytes`); at least 1."""
    return count_for_bytes(budget_for_bpp(bpp, height, width), height, width, quant)


def max_bytes(count: int, height: int, width: int, quant: q_lib.QuantConfig) -> int:
    """:func:`bitstream.max_bytes` for ``quant``'s bit depths (an unset grid: by density)."""
    quant = quant.resolved(count, height, width)
    return bitstream.max_bytes(
        count, height, width, quant.xy_subpixel, quant.shape_bits, quant.stages, quant.codebook
    )


def count_for_bytes(budget: int, height: int, width: int, quant: q_lib.QuantConfig) -> int:
    """The most Gaussians whose file fits ``budget`` bytes without entropy coding; at least 1."""
    lo, hi = 1, max(1, height * width)
    while lo < hi:  # max_bytes grows with the count: the largest count within the budget
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if max_bytes(mid, height, width, quant) <= budget else (lo, mid - 1)
    return lo


def count_for_budget(
    target: np.ndarray, options: FitOptions, quant: q_lib.QuantConfig, budget: int, *, key: jax.Array
) -> tuple[int, int]:
    """The count whose entropy-coded file fills ``budget`` bytes, and the raw-bits bound's.

    The raw-bits bound (:func:`count_for_bytes`) leaves 1-20 % of a budget unused, more at higher
    rates. So the init is built at that count, quantised and coded, and the count grows to what
    the budget holds (× :data:`FILL_MARGIN`) at the bytes per Gaussian it coded to; never below the
    bound. ``target [H, W, 3]``; ``options``: the fit's init settings.
    """
    from igi_jax.init import initialize
    from igi_jax.one_image import init_kwargs

    h, w = target.shape[:2]
    n0 = count_for_bytes(budget, h, w, quant)
    if n0 < quant.codebook:
        return n0, n0
    g = compact(
        initialize(options.init, target, **init_kwargs(options.replace(num_gaussians=n0), h, w)).gaussians
    )
    size = len(bitstream.encode(q_lib.to_payload(g, q_lib.init_state(g, quant, key), quant)))
    fixed = max_bytes(0, h, w, quant)
    per_gaussian = max(size - fixed, 1) / g.num_live()
    n = int((FILL_MARGIN * budget - fixed) / per_gaussian)
    return min(max(n0, n), h * w), n0


def encode_within(
    g: Gaussians, state: q_lib.QState, quant: q_lib.QuantConfig, budget: int | None
) -> tuple[bytes, Any, int, Gaussians]:
    """The file of ``g`` quantised by ``state``: ``(bytes, payload, dropped, kept Gaussians)``.
    While it exceeds ``budget`` bytes, the Gaussians of least energy are dropped (about the excess,
    at the bytes per Gaussian coded, plus 5 %) and the rest coded again."""
    data, payload, dropped, g = _within(g, state, quant, budget)
    return data, payload, dropped, compact(g)


def _within(g: Gaussians, state: q_lib.QState, quant: q_lib.QuantConfig, budget: int | None):
    """:func:`encode_within` with the kept Gaussians masked in place, not compacted."""
    from igi_jax.errors import InputError

    quant = quant.resolved(g.num_live(), g.height, g.width)  # one grid, whatever is dropped
    payload = q_lib.to_payload(g, state, quant)
    data, dropped = bitstream.encode(payload), 0
    while budget is not None and len(data) > budget:
        per_gaussian = len(data) / payload.count
        surplus = math.ceil(1.05 * (len(data) - budget) / per_gaussian) + 1
        if surplus >= payload.count:
            raise InputError(f"a budget of {budget} bytes holds no Gaussian (the header alone is larger)")
        g, d = rate.keep_count(g, payload.count - surplus)
        dropped += d
        payload = q_lib.to_payload(g, state, quant)
        data = bitstream.encode(payload)
    return data, payload, dropped, g


def decompress(data: bytes) -> Gaussians:
    """The Gaussians a ``.igi`` file's bytes decode to; :class:`bitstream.BitstreamError` if bad."""
    return q_lib.from_payload(bitstream.decode(data))


def compress_image(
    path: str | os.PathLike,
    options: CompressOptions | None = None,
    *,
    max_side: int | None = None,
    on_start: Callable | None = None,
    on_init: Callable | None = None,
    callback: Callable[[dict[str, float]], Any] | None = None,
    qat_callback: Callable[[dict[str, float]], Any] | None = None,
) -> CompressRun:
    """Fit ``path`` (:func:`igi_jax.one_image.fit_image`), fine-tune it quantised, encode, decode
    and measure. Nothing is written."""
    from igi_jax import io, memory
    from igi_jax.render import render_gaussians

    options = CompressOptions() if options is None else options
    t0 = time.perf_counter()
    height, width = memory.scaled_size(*io.image_size(path), max_side)
    fill: dict[str, Any] = {}
    if options.budget_bytes is not None:
        target = io.load_image(path, max_side=max_side)[0]
        n, bound = count_for_budget(
            target, options.fit, options.quant, options.budget_bytes, key=jax.random.key(options.fit.seed)
        )
        fill = {"budget_bytes": options.budget_bytes, "count_bound": bound, "count_filled": n}

    started: list[bool] = []

    def start_once(*args: Any) -> None:  # a retried fit must not announce the image again
        if on_start and not started:
            started.append(True)
            on_start(*args)

    def fit_at(n: int | None) -> tuple[Any, float, FitOptions]:
        fit_options, factor = options.fit if n is None else options.fit.replace(num_gaussians=n), 1.0
        if options.adapt_shape_lr:
            fit_options, factor = with_shape_lr(fit_options, height, width)
        run = fit_image(
            path, fit_options, max_side=max_side, on_start=start_once, on_init=on_init, callback=callback
        )
        return run, factor, fit_options

    try:
        run, factor, fit_options = fit_at(fill.get("count_filled"))
    except rate.CountOutOfRange as e:
        # The filled count is past what the init can give this image: its most, if the bound is not.
        if not fill or e.most < fill["count_bound"] or e.most >= fill["count_filled"]:
            raise
        fill["count_filled"] = e.most
        run, factor, fit_options = fit_at(e.most)
    t_fit = time.perf_counter()
    key = jax.random.key(options.fit.seed)
    # The grid is fixed once, from the fitted count: a trim below must not move it.
    quant = options.quant.resolved(run.result.gaussians.num_live(), *run.target.shape[:2])
    fitted, pre_trimmed = run.result.gaussians, 0
    if options.budget_bytes is not None:
        # A fitted set codes longer than its init: trimmed to the budget before the quantisation-
        # aware steps, which then fine-tune the Gaussians that stay (a trim after them cannot).
        state = q_lib.init_state(fitted, quant, key)
        pre_budget = int(PRE_TRIM_SHARE * options.budget_bytes)
        *_, pre_trimmed, fitted = encode_within(fitted, state, quant, pre_budget)
    mid_trimmed = [0]

    def trim(g: Gaussians, state: q_lib.QState, step: int) -> np.ndarray | None:
        if options.budget_bytes is None or step < QAT_TRIM_FROM * options.qat_steps:
            return None
        *_, dropped, kept = _within(g, state, quant, options.budget_bytes)
        mid_trimmed[0] += dropped
        return np.asarray(kept.mask) if dropped else None

    q = qat_lib.fit_quantized(
        fitted,
        run.target,
        options.qat_steps,
        quant,
        fit_options.fit,
        key=key,
        callback=qat_callback,
        trim=trim,
    )
    data, payload, trimmed, _ = encode_within(q.gaussians, q.state, quant, options.budget_bytes)
    t_enc = time.perf_counter()
    decoded = decompress(data)
    image = np.asarray(render_gaussians(decoded))
    t_dec = time.perf_counter()
    h, w = run.target.shape[:2]
    metrics = image_metrics(image, run.target)
    info = {
        "bytes": len(data),
        "bpp": 8 * len(data) / (h * w),
        "gaussians": payload.count,
        "bits_per_gaussian": 8 * len(data) / max(payload.count, 1),
        "width": w,
        "height": h,
        **metrics,
        "psnr_unquantized": run.metrics["psnr"],
        "psnr_quantized_encoder": q.psnr,
        "init": options.fit.init,
        "fit_steps": run.result.steps,
        "qat_steps": options.qat_steps,
        "shape_lr_factor": factor,
        **fill,
        **(
            {"trimmed": trimmed, "trimmed_before_qat": pre_trimmed, "trimmed_during_qat": mid_trimmed[0]}
            if fill
            else {}
        ),
        "encode_seconds": t_enc - t0,
        "fit_seconds": t_fit - t0,
        "decode_seconds": t_dec - t_enc,
        "quant": dataclasses.asdict(quant),
    }
    return CompressRun(data=data, image=image, info=info)
