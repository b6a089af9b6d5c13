"""The Gaussians file: a fitted set saved, validated and loaded (``gaussians.npz``).

Gaussian sets (:func:`save_gaussians`) are a versioned ``.npz`` (no pickles) holding the live
Gaussians only:

=================  ==========  ===================================================
key                shape       meaning
=================  ==========  ===================================================
``format_version`` ``()`` str  :data:`FORMAT_VERSION`
``kind``           ``()`` str  ``"rs"`` or ``"cholesky"``
``height/width``   ``()`` int  image size, pixels
``xy``             ``[N, 2]``  raw positions (authoritative; see :mod:`igi_jax.gaussians`)
``shape``          ``[N, 3]``  raw covariance parameters (authoritative)
``colors``         ``[N, 3]``  RGB weights
``means``          ``[N, 2]``  centres in pixels (derived copy, for other tools)
``cov``            ``[N, 3]``  covariances (xx, xy, yy) in pixels² (derived copy)
``meta``           ``()`` str  JSON object of free-form metadata
=================  ==========  ===================================================

Writes are atomic (:func:`igi_jax.io.atomic_write`); every problem reading a file is one
:class:`~igi_jax.errors.InputError` naming it. The full format: ``docs/FORMAT.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from igi_jax.errors import InputError
from igi_jax.gaussians import KINDS, Gaussians, compact
from igi_jax.io import Writer, atomic_write, json_safe

FORMAT_VERSION = "igi-gaussians/1"
_ARRAYS = {"xy": 2, "shape": 3, "colors": 3, "means": 2, "cov": 3}  # key → columns
_KEYS = ("format_version", "kind", "height", "width", "meta", *_ARRAYS)


def save_gaussians(path: str | os.PathLike, g: Gaussians, **meta: Any) -> Path:
    """Save the live Gaussians of ``g`` to a versioned ``.npz`` (atomically).

    Args:
      path: output file; ``.npz`` is conventional but not enforced.
      g: any (padded) set; masked entries are dropped.
      **meta: JSON-serialisable metadata (e.g. ``init``, ``steps``, ``psnr``).
    """
    return atomic_write(path, gaussians_writer(g, **meta))


def gaussians_writer(g: Gaussians, **meta: Any) -> Writer:
    """The :func:`save_gaussians` payload as a writer (for :func:`write_outputs`)."""
    g = compact(g)
    arrays = {
        "format_version": np.asarray(FORMAT_VERSION),
        "kind": np.asarray(g.kind),
        "height": np.asarray(g.height, np.int64),
        "width": np.asarray(g.width, np.int64),
        "meta": np.asarray(json.dumps(json_safe(meta), allow_nan=False)),
        "xy": np.asarray(g.xy, np.float32),
        "shape": np.asarray(g.shape, np.float32),
        "colors": np.asarray(g.colors, np.float32),
        "means": np.asarray(g.means(), np.float32),
        "cov": np.asarray(g.covariances(), np.float32),
    }
    return lambda f: np.savez(f, **arrays)


@dataclasses.dataclass(frozen=True)
class GaussiansFile:
    """What :func:`read_gaussians` found: the set (mask all true), its metadata and version."""

    gaussians: Gaussians
    meta: dict[str, Any]
    version: str


def load_gaussians(path: str | os.PathLike) -> Gaussians:
    """Load a set written by :func:`save_gaussians` (capacity = number of Gaussians)."""
    return read_gaussians(path).gaussians


def read_gaussians(path: str | os.PathLike) -> GaussiansFile:
    """Load and validate a Gaussians ``.npz``; every problem is one :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if not zipfile.is_zipfile(path):  # an .npz is a zip; a truncated one has lost its directory
        raise InputError(f"{path}: not a valid .npz file (not a complete zip archive; truncated?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in _KEYS if k in z.files}  # members decode lazily: read all now
    except ValueError as e:
        if "pickle" in str(e):
            raise InputError(f"{path}: contains pickled Python objects; refusing to load them") from None
        raise InputError(f"{path}: not a valid .npz file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise InputError(f"{path}: not a valid .npz file, truncated or corrupt ({e})") from None
    return _validate(path, data)


def _scalar(path: Path, data: dict[str, np.ndarray], key: str, kind: str) -> Any:
    v = data[key]
    if v.shape != () or v.dtype.kind not in kind:
        raise InputError(f"{path}: field {key!r} should be a scalar of kind {kind!r}, got {v.dtype}{v.shape}")
    return v.item()


def _validate(path: Path, data: dict[str, np.ndarray]) -> GaussiansFile:
    if "format_version" not in data:
        raise InputError(f"{path}: not an igi Gaussians file (no 'format_version' field)")
    version = _scalar(path, data, "format_version", "U")
    if version != FORMAT_VERSION:
        raise InputError(f"{path}: unsupported format_version {version!r}; this igi reads {FORMAT_VERSION!r}")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise InputError(f"{path}: missing fields {missing}")
    kind = _scalar(path, data, "kind", "U")
    if kind not in KINDS:
        raise InputError(f"{path}: unknown kind {kind!r}; expected one of {KINDS}")
    height, width = _scalar(path, data, "height", "iu"), _scalar(path, data, "width", "iu")
    if height < 1 or width < 1:
        raise InputError(f"{path}: image size must be positive, got {height=} {width=}")
    n = data["xy"].shape[0] if data["xy"].ndim == 2 else -1
    for key, cols in _ARRAYS.items():
        a = data[key]
        if a.shape != (n, cols) or a.dtype.kind != "f":
            raise InputError(f"{path}: field {key!r} has {a.dtype}{a.shape}, expected float [N, {cols}]")
        if not np.isfinite(a).all():
            raise InputError(f"{path}: field {key!r} has non-finite values")
    if n < 1:
        raise InputError(f"{path}: holds no Gaussians")
    try:
        meta = json.loads(_scalar(path, data, "meta", "U"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: field 'meta' is not valid JSON ({e})") from None
    g = Gaussians(
        xy=data["xy"].astype(np.float32),
        shape=data["shape"].astype(np.float32),
        colors=data["colors"].astype(np.float32),
        mask=np.ones((n,), bool),
        kind=kind,
        height=int(height),
        width=int(width),
    )
    return GaussiansFile(
        gaussians=_to_device(g), meta=meta if isinstance(meta, dict) else {"meta": meta}, version=version
    )


def _to_device(g: Gaussians) -> Gaussians:
    import jax.numpy as jnp  # deferred: reading metadata should not need a device

    return dataclasses.replace(
        g,
        xy=jnp.asarray(g.xy),
        shape=jnp.asarray(g.shape),
        colors=jnp.asarray(g.colors),
        mask=jnp.asarray(g.mask),
    )


def _stats(name: str, a: np.ndarray, unit: str = "") -> str:
    lo, med, hi = np.min(a), np.median(a), np.max(a)
    return f"  {name:<16} min {lo:9.4g}  median {med:9.4g}  max {hi:9.4g} {unit}".rstrip()


def describe(f: GaussiansFile, path: str | os.PathLike) -> list[str]:
    """Human-readable lines about a Gaussians file (what ``igi info`` prints)."""
    g = f.gaussians
    means, cov, colors = np.asarray(g.means()), np.asarray(g.covariances()), np.asarray(g.colors)
    # Std devs along the principal axes: sqrt of the 2×2 covariance eigenvalues.
    b, d = (cov[:, 0] + cov[:, 2]) / 2, np.sqrt(((cov[:, 0] - cov[:, 2]) / 2) ** 2 + cov[:, 1] ** 2)
    lines = [
        f"{path}",
        f"  format           {f.version}",
        f"  Gaussians        {g.capacity:,} ({g.kind} parameterization)",
        f"  image size       {g.width}×{g.height} px (W×H), "
        f"{g.capacity / (g.width * g.height):.3f} Gaussians per pixel",
        _stats("centre x", means[:, 0], "px"),
        _stats("centre y", means[:, 1], "px"),
        _stats("major std dev", np.sqrt(b + d), "px"),
        _stats("minor std dev", np.sqrt(np.maximum(b - d, 0.0)), "px"),
        *(_stats(f"colour {c}", colors[:, i]) for i, c in enumerate("RGB")),
        *(_stats(f"raw {k}", np.asarray(v)) for k, v in g.params().items()),
    ]
    lines += [f"  meta {k:<11} {v}" for k, v in f.meta.items()]
    return lines
