"""Network weights on disk: a single versioned ``.npz`` file (no pickle), or an orbax directory.

``.npz`` layout (loaded with ``allow_pickle=False``):

* ``__header__``: a JSON string ``{"format_version": "igi-net/1", "config": NetConfig.to_dict(),
  "params": [names...], "meta": {...}}``;
* one float32 array per model variable, keyed by its path in ``nnx.state(model)`` joined with
  ``/`` (e.g. ``unet/stages/0/blocks/0/dwconv/kernel``).

The loader checks the version, the config, that every variable is present with the right shape
and nothing extra, and that the values are finite; every failure is one
:class:`~igi_jax.errors.InputError` (a ``ValueError``) that says what is wrong (truncated or
non-zip file, wrong version, missing or mis-shaped variables).

An orbax directory holds ``net_config.json`` (the same header, without ``params``) next to a
``StandardCheckpointer`` checkpoint of the pure state dict in ``state/``.
"""

from __future__ import annotations

import functools
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from igi_jax.errors import InputError
from igi_jax.net.config import NetConfig
from igi_jax.net.model import InstantGINet

FORMAT_VERSION = "igi-net/1"
_HEADER = "__header__"
# The shipped weights of the ``small`` config: the one name for them (tests monkeypatch it).
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "small.npz"


def _flat(state: Any) -> dict[str, Any]:
    """``nnx.State`` (or its pure dict) → ``{"a/b/c": leaf}``."""
    pure = nnx.to_pure_dict(state) if isinstance(state, nnx.State) else state
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(pure)[0]:
        out["/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)] = leaf
    return out


def _abstract(cfg: NetConfig) -> tuple[nnx.GraphDef, nnx.State]:
    return nnx.split(nnx.eval_shape(lambda: InstantGINet(cfg, rngs=nnx.Rngs(0))))


def _fill(cfg: NetConfig, arrays: dict[str, np.ndarray], source: str) -> InstantGINet:
    """Build the model for ``cfg`` and set its variables from ``arrays`` (checked)."""
    graphdef, abstract = _abstract(cfg)
    want = _flat(abstract)
    missing = sorted(set(want) - set(arrays))
    extra = sorted(set(arrays) - set(want))
    if missing or extra:
        raise InputError(
            f"{source}: weights do not match the network config: missing {missing[:5]}"
            f"{'…' if len(missing) > 5 else ''}, unexpected {extra[:5]}"
            f"{'…' if len(extra) > 5 else ''}"
        )
    for name, spec in want.items():
        a = arrays[name]
        if tuple(a.shape) != tuple(spec.shape):
            raise InputError(f"{source}: {name} has shape {tuple(a.shape)}, expected {tuple(spec.shape)}")
        if not np.isfinite(a).all():
            raise InputError(f"{source}: {name} contains NaN or inf")
    pure = nnx.to_pure_dict(abstract)
    leaves, treedef = jax.tree_util.tree_flatten(pure)
    names = list(_flat(abstract))
    pure = jax.tree_util.tree_unflatten(
        treedef, [np.asarray(arrays[n], dtype=spec.dtype) for n, spec in zip(names, leaves, strict=True)]
    )
    nnx.replace_by_pure_dict(abstract, pure)
    return nnx.merge(graphdef, abstract)


def _header(cfg: NetConfig, meta: dict[str, Any] | None) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "config": cfg.to_dict(), "meta": meta or {}}


def save_weights(
    path: str | os.PathLike,
    model: InstantGINet,
    cfg: NetConfig | None = None,
    *,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s variables and ``cfg`` to one ``.npz`` file (atomically).

    Args:
      path: output file (``.npz`` is appended if missing).
      model: the network.
      cfg: its config (default ``model.cfg``; must match it).
      meta: JSON-serialisable notes stored in the header (training steps, data, ...).
    """
    cfg = model.cfg if cfg is None else cfg
    if cfg != model.cfg:
        raise ValueError(f"cfg {cfg} does not match the model's {model.cfg}")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    arrays = {k: np.asarray(v, np.float32) for k, v in _flat(nnx.state(model)).items()}
    header = _header(cfg, meta)
    header["params"] = sorted(arrays)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        np.savez(f, **{_HEADER: np.asarray(json.dumps(header))}, **arrays)
    os.replace(tmp, path)
    return path


def _parse_header(text: str, source: str) -> dict[str, Any]:
    try:
        header = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{source}: header is not JSON ({err})") from err
    version = header.get("format_version") if isinstance(header, dict) else None
    if version != FORMAT_VERSION:
        raise InputError(f"{source}: format_version {version!r}, expected {FORMAT_VERSION!r}")
    if not isinstance(header.get("config"), dict):
        raise InputError(f"{source}: header has no network config")
    return header


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a weights file or orbax directory (version, config, meta)."""
    path = Path(path)
    if path.is_dir():
        return _parse_header((path / "net_config.json").read_text(), str(path))
    with _open_npz(path) as z:
        return _parse_header(str(z[_HEADER][()]), str(path))


def finetune_shrink(path: str | os.PathLike) -> float | None:
    """The std-dev factor measured best for fine-tuning from this net (``meta["finetune_shrink"]``,
    set by ``python -m igi_jax.train.export --finetune-shrink``), or ``None`` if not recorded."""
    return _recorded(path, "finetune_shrink")


def ppm_scale(path: str | os.PathLike) -> float | None:
    """The factor on this net's PPM before dithering (``meta["ppm_scale"]``, set by ``export
    --ppm-scale``): its density calibration, which moves the count and keeps where the density
    goes. ``None`` if not recorded (the net's own PPM)."""
    return _recorded(path, "ppm_scale")


def _recorded(path: str | os.PathLike, key: str) -> float | None:
    value = read_header(path).get("meta", {}).get(key)
    return None if value is None else float(value)


def _open_npz(path: Path):
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        z = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable .npz weights file ({type(err).__name__}: {err})") from err
    if not hasattr(z, "files") or _HEADER not in z.files:
        raise InputError(f"{path}: not an igi network weights file (no {_HEADER})")
    return z


def load_weights(path: str | os.PathLike) -> InstantGINet:
    """Load a network from a ``.npz`` weights file or an orbax directory (see the module docstring).

    Raises:
      FileNotFoundError: no such file.
      InputError: truncated/corrupt file, another format version, or weights that do not match
        the stored config.
    """
    path = Path(path)
    if path.is_dir():
        return _load_orbax(path)
    with _open_npz(path) as z:
        header = _parse_header(str(z[_HEADER][()]), str(path))
        try:
            arrays = {k: z[k] for k in z.files if k != _HEADER}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
            raise InputError(f"{path}: truncated or corrupt ({type(err).__name__}: {err})") from err
    cfg = NetConfig.from_dict(header["config"])
    return _fill(cfg, arrays, str(path))


def save_orbax(path: str | os.PathLike, model: InstantGINet, *, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as an orbax directory (``net_config.json`` + ``state/``)."""
    import orbax.checkpoint as ocp

    path = Path(path).absolute()
    path.mkdir(parents=True, exist_ok=True)
    (path / "net_config.json").write_text(json.dumps(_header(model.cfg, meta)))
    pure = nnx.to_pure_dict(nnx.state(model))
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(path / "state", pure, force=True)
    return path


def _load_orbax(path: Path) -> InstantGINet:
    import orbax.checkpoint as ocp

    if not (path / "net_config.json").exists():
        raise InputError(f"{path}: a directory of network weights needs net_config.json")
    header = read_header(path)
    cfg = NetConfig.from_dict(header["config"])
    _, abstract = _abstract(cfg)
    target = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), nnx.to_pure_dict(abstract))
    try:
        with ocp.StandardCheckpointer() as ckpt:
            pure = ckpt.restore(path.absolute() / "state", target)
    except Exception as err:  # orbax raises many types for a bad directory
        raise InputError(f"{path}: cannot restore the orbax state ({type(err).__name__}: {err})") from err
    return _fill(cfg, {k: np.asarray(v) for k, v in _flat(pure).items()}, str(path))


def resolve_weights(weights: str | os.PathLike | None) -> Path:
    """The weights to use: ``weights`` if given, else :data:`DEFAULT_WEIGHTS` if installed.

    Raises:
      InputError: no weights given and none shipped (never falls back to random weights).
      FileNotFoundError: ``weights`` does not exist.
    """
    if weights is None:
        if DEFAULT_WEIGHTS.exists():
            return DEFAULT_WEIGHTS
        raise InputError(
            "the 'net' init needs trained weights: pass weights=FILE (igi fit --weights "
            f"FILE); no default weights are installed ({DEFAULT_WEIGHTS} is missing)"
        )
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"weights not found: {path}")
    return path


def load_weights_cached(path: str | os.PathLike) -> InstantGINet:
    """:func:`load_weights`, cached on the resolved path and its modification time."""
    path = Path(path).resolve()
    return _load_cached(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> InstantGINet:
    return load_weights(path)
