"""Images in, all-or-nothing outputs (the Gaussians file format: :mod:`igi_jax.gaussians_file`).

Images (:func:`load_image`) come back as ``[H, W, 3]`` float32 in [0, 1] plus a list of notes
saying what was converted. Conversions:

* grayscale, palette, CMYK, … → RGB (grayscale is replicated to 3 channels);
* alpha is **composited onto black**, i.e. RGB × alpha: the renderer has no alpha and its
  background is black (no Gaussian → 0), so premultiplied colour is what a fit can reproduce;
* 16-bit grayscale (``I;16*``/``I`` modes) is scaled by 1/65535 (not clipped). Pillow decodes
  16-bit *colour* PNGs at 8 bits per channel (the high byte); that is noted, not hidden;
* EXIF orientation is applied (camera JPEGs are otherwise sideways).

Every write goes through :func:`atomic_write` / :func:`write_outputs`: data goes to a temporary
file in the target directory and is renamed into place only once complete, so a crash or an
error never leaves a half-written file, and a multi-file output appears all at once or not at all.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from igi_jax import memory
from igi_jax.errors import InputError
from igi_jax.memory import scaled_size

MIN_SIDE = 2  # a 1-pixel side has no neighbour to fit or to measure against

Writer = Callable[[IO[bytes]], None]


# ---------------------------------------------------------------------------------------------
# Safe writes


def atomic_write(path: str | os.PathLike, writer: Writer) -> Path:
    """Write ``path`` through ``writer(binary_file)`` via a temp file + ``os.replace``.

    The temp file lives in the same directory (``os.replace`` is atomic only within one file
    system); on any exception it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    with _staged(path, writer) as tmp:
        os.replace(tmp, path)
    return path


@contextlib.contextmanager
def _staged(path: Path, writer: Writer):
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # name the user's file, not the temp file it would have been staged in
        raise OSError(e.errno, f"cannot write {path} ({e.strerror})") from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should look like any file
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_outputs(out_dir: str | os.PathLike, writers: Mapping[str, Writer]) -> list[Path]:
    """Write several files into ``out_dir`` all-or-nothing.

    Every file is staged first; only when all writers succeeded are they renamed into place.
    On failure the staged files are removed, and ``out_dir`` too if this call created it.

    Returns:
      The written paths, in ``writers`` order.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output directory {out_dir} exists and is not a directory")
    created = _make_dirs(out_dir)
    try:
        with contextlib.ExitStack() as stack:
            staged = [stack.enter_context(_staged(out_dir / name, w)) for name, w in writers.items()]
            for tmp, name in zip(staged, writers, strict=True):
                os.replace(tmp, out_dir / name)
    except BaseException:
        for d in reversed(created):
            with contextlib.suppress(OSError):
                d.rmdir()  # only succeeds if empty, i.e. nothing of anyone else's is lost
        raise
    return [out_dir / name for name in writers]


def _make_dirs(d: Path) -> list[Path]:
    """``mkdir -p d``; returns the directories it created, outermost first."""
    missing = []
    while not d.exists():
        missing.append(d)
        d = d.parent
    for m in reversed(missing):
        m.mkdir()
    return list(reversed(missing))


def json_writer(obj: Any) -> Writer:
    """A writer for strict JSON (NaN/inf become ``null``)."""
    text = json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n"
    return lambda f: f.write(text.encode())


def json_safe(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic) or hasattr(obj, "__array__"):  # NumPy / JAX values
        a = np.asarray(obj)
        return json_safe(a.item() if a.ndim == 0 else a.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def png_writer(image: np.ndarray) -> Writer:
    """A PNG writer for ``[H, W, 3]`` uint8, or float (clamped to [0, 1] and rounded)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(np.clip(image.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return lambda f: Image.fromarray(image).save(f, format="PNG")


# ---------------------------------------------------------------------------------------------
# Images


HUGE_REMEDY = "downscale it on load with --max-side N"  # igi fit's; other commands pass theirs


def load_image(
    path: str | os.PathLike, *, max_side: int | None = None, huge_remedy: str = HUGE_REMEDY
) -> tuple[np.ndarray, list[str]]:
    """Read an image file as ``[H, W, 3]`` float32 in [0, 1].

    ``max_side``: downscale (Lanczos, aspect kept) so that the longer side is at most this; noted.
    ``huge_remedy``: what the refusal of an image over Pillow's pixel limit without ``max_side``
    tells the user to do.

    Returns:
      ``(image, notes)``; ``notes`` lists every conversion applied (empty for 8-bit RGB).

    Raises:
      InputError: missing file, not an image, truncated/corrupt data, or smaller than 2×2.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an image file")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            limit = Image.MAX_IMAGE_PIXELS
            with _bomb_limit_lifted(), Image.open(path) as im:  # the header only: no pixels yet
                if limit is not None and im.width * im.height > limit:
                    im = _reduced_huge(im, path, limit, max_side, notes, huge_remedy)
                else:
                    im.load()
                if getattr(im, "n_frames", 1) > 1:
                    notes.append(f"{im.format} has {im.n_frames} frames; using the first")
                if im.getexif().get(0x0112, 1) != 1:  # EXIF Orientation
                    im = ImageOps.exif_transpose(im)
                    notes.append("applied EXIF orientation")
                image = _to_rgb_float(im, path, notes)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image (or a format Pillow cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"{path}: too large to decode safely ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{path}: cannot decode image, truncated or corrupt ({e})") from None
    h, w = image.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise InputError(f"{path}: image is {w}×{h} px; need at least {MIN_SIDE}×{MIN_SIDE}")
    if max_side is not None and max(h, w) > max_side:
        image = resize(image, *scaled_size(h, w, max_side), purpose="photo")
        notes.append(
            f"downscaled from {w}×{h} to {image.shape[1]}×{image.shape[0]} px (--max-side {max_side})"
        )
        if min(image.shape[:2]) < MIN_SIDE:
            raise InputError(
                f"{path}: --max-side {max_side} makes the image smaller than {MIN_SIDE}×{MIN_SIDE}"
            )
    return image, notes


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header, without decoding it (EXIF not applied).

    Reading a header is safe at any size, so Pillow's decompression-bomb limit is lifted here;
    :func:`load_image` applies the policy for images over it.
    """
    try:
        with _bomb_limit_lifted(), Image.open(path) as im:
            return im.height, im.width
    except (OSError, UnidentifiedImageError, ValueError):
        return load_image(path)[0].shape[:2]  # raises the precise error (or decodes what the header hid)


@contextlib.contextmanager
def _bomb_limit_lifted():
    """Pillow's decompression-bomb check off, for header reads and the guarded read of
    :func:`_reduced_huge` only (it is a process-wide setting, restored on exit)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _reduced_huge(
    im: Image.Image, path: Path, limit: int, max_side: int | None, notes: list[str], remedy: str
) -> Image.Image:
    """Decode an image over Pillow's pixel ``limit`` shrunk in 8 bits, or refuse it.

    Without ``max_side`` the full-size float32 copy (12 bytes a pixel) is what a fit would hold,
    so it is refused naming the remedy. With it, the decode (``W·H·bands`` bytes) is checked
    against the host memory first, then shrunk by an integer factor in Pillow's uint8 domain
    (JPEG: in the decoder, draft mode) to ≥ 2 × ``max_side``, so that only the small copy is
    ever converted to float; :func:`load_image` finishes with its Lanczos resize.
    """
    w, h = im.size
    size = f"{w}×{h} px ({w * h / 1e6:,.0f} MP, over Pillow's {limit / 1e6:.0f} MP safety limit)"
    if max_side is None:
        raise InputError(f"{path}: {size} is too large to fit at full size; {remedy}")
    factor = max(1, max(w, h) // (2 * max_side))
    if im.format == "JPEG" and factor > 1:
        im.draft(im.mode, (-(-w // factor), -(-h // factor)))  # decodes at 1/2, 1/4 or 1/8 scale
    bands = len(im.getbands())
    need = im.width * im.height * bands * (2 if im.mode in ("P", "1") else 1)  # + the RGB(A) copy
    have = memory.host_limit_bytes()
    if have is not None and need > have:
        raise InputError(
            f"{path}: {size} needs {need / memory.GB:.1f} GB to decode, "
            f"more than the {have / memory.GB:.1f} GB available"
        )
    im.load()
    if im.mode == "P":  # Image.reduce has no palette mode
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    factor = max(1, max(im.size) // (2 * max_side))
    if factor > 1:
        im = im.reduce(factor)
    notes.append(f"read {w}×{h} px shrunk to {im.width}×{im.height} in 8 bits before the resize")
    return im


# The one place images are resampled, with PIL's filter chosen by purpose (every PIL filter
# antialiases when it downscales). Values are resampled in float32, channel by channel.
RESAMPLE = {
    # An image to fit or train on, downscaled by any factor: the sharpest antialiased filter.
    "photo": Image.Resampling.LANCZOS,
    # Integer-factor reduction of smooth maps (stored PPM labels): the plain area average.
    "area": Image.Resampling.BOX,
    # A stored low-resolution map back to full size: smooth, no ringing, stays within its range.
    "smooth_upsample": Image.Resampling.BILINEAR,
}


def resize(image: np.ndarray, height: int, width: int, purpose: str) -> np.ndarray:
    """Resample ``image`` (``[H, W]`` or ``[H, W, C]`` float in [0, 1]) to ``height × width``.

    Args:
      image: the image; any float dtype.
      height, width: the output size in pixels.
      purpose: a key of :data:`RESAMPLE`, which names the filter.

    Returns:
      ``[height, width]`` or ``[height, width, C]`` float32, clipped to [0, 1] (Lanczos rings).
    """
    if purpose not in RESAMPLE:
        raise ValueError(f"unknown resize {purpose=}; expected one of {tuple(RESAMPLE)}")
    planes = image[..., None] if image.ndim == 2 else image
    channels = [
        np.asarray(
            Image.fromarray(np.asarray(planes[..., c], np.float32), "F").resize(
                (width, height), RESAMPLE[purpose]
            )
        )
        for c in range(planes.shape[-1])
    ]
    out = np.clip(np.stack(channels, -1), 0.0, 1.0).astype(np.float32)
    return out[..., 0] if image.ndim == 2 else out


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">B", head[24:25])[0]
    return None


def _to_rgb_float(im: Image.Image, path: Path, notes: list[str]) -> np.ndarray:
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.float64)
        if a.min() < 0 or a.max() > 65535:
            raise InputError(f"{path}: {mode} image values {a.min():.0f}..{a.max():.0f} are outside 16 bits")
        notes.append(f"16-bit grayscale ({mode}) scaled by 1/65535 and replicated to RGB")
        return np.repeat((a / 65535.0).astype(np.float32)[..., None], 3, axis=-1)
    if mode == "F":
        a = np.asarray(im, np.float32)
        if a.min() < 0 or a.max() > 1:
            notes.append(f"float image values {a.min():.3g}..{a.max():.3g} clipped to [0, 1]")
        notes.append("float grayscale replicated to RGB")
        return np.repeat(np.clip(a, 0, 1)[..., None], 3, axis=-1)
    if im.format == "PNG" and _png_bit_depth(path) == 16:
        notes.append("16-bit colour PNG read at 8 bits per channel (Pillow's PNG decoder)")
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        notes.append("palette image converted to RGB")
    elif mode in ("L", "1", "LA"):
        notes.append(f"grayscale ({mode}) replicated to RGB")
    elif mode not in ("RGB", "RGBA"):
        notes.append(f"{mode} image converted to RGB")
    if "A" in im.mode or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), np.float32) / 255.0
        if rgba[..., 3].min() < 1.0:
            notes.append("alpha channel composited onto black (the renderer's background)")
        else:
            notes.append("fully opaque alpha channel dropped")
        return rgba[..., :3] * rgba[..., 3:]
    return np.asarray(im.convert("RGB"), np.float32) / 255.0
