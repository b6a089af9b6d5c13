"""Tests for igi_jax.io: image conversions and rejections, the Gaussians .npz format, atomic writes."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from igi_jax import gaussians_file, io
from igi_jax.gaussians import compact, random_init
from igi_jax.io import InputError


def write_png16(path: Path, array: np.ndarray) -> Path:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour): ``[H, W, C]`` uint16."""
    h, w, c = array.shape
    raw = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def rgb(h: int = 6, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------------ images


def test_rgb_png_exact(tmp_path):
    a = rgb()
    Image.fromarray(a).save(tmp_path / "x.png")
    image, notes = io.load_image(tmp_path / "x.png")
    assert image.dtype == np.float32 and image.shape == (6, 5, 3)
    np.testing.assert_array_equal(image, a.astype(np.float32) / 255.0)
    assert notes == []


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p, "no such file"),
        (lambda p: p.mkdir() or p, "is a directory"),
        (lambda p: (p.write_text("not an image\n"), p)[1], "not an image"),
    ],
    ids=["missing", "directory", "text"],
)
def test_bad_paths(tmp_path, make, match):
    with pytest.raises(InputError, match=match):
        io.load_image(make(tmp_path / "x.png"))


def test_truncated_png(tmp_path):
    Image.fromarray(rgb(64, 64)).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "x.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        io.load_image(tmp_path / "x.png")


@pytest.mark.parametrize("h, w", [(1, 1), (1, 5), (5, 1)])
def test_too_small(tmp_path, h, w):
    Image.fromarray(rgb(h, w)).save(tmp_path / "x.png")
    with pytest.raises(InputError, match=f"{w}×{h} px; need at least 2×2"):
        io.load_image(tmp_path / "x.png")


def test_two_by_two_is_enough(tmp_path):
    Image.fromarray(rgb(2, 2)).save(tmp_path / "x.png")
    assert io.load_image(tmp_path / "x.png")[0].shape == (2, 2, 3)


def test_grayscale_replicated(tmp_path):
    a = rgb()[..., 0]
    Image.fromarray(a, "L").save(tmp_path / "x.png")
    image, notes = io.load_image(tmp_path / "x.png")
    np.testing.assert_array_equal(image, np.repeat(a[..., None] / np.float32(255), 3, -1))
    assert any("grayscale" in n for n in notes)


def test_palette_converted(tmp_path):
    a = rgb()
    Image.fromarray(a).quantize(8).save(tmp_path / "x.png")
    image, notes = io.load_image(tmp_path / "x.png")
    assert image.shape == (6, 5, 3) and any("palette" in n for n in notes)


def test_rgba_composited_on_black(tmp_path):
    a = np.concatenate([rgb(), np.full((6, 5, 1), 51, np.uint8)], axis=-1)  # alpha 0.2
    Image.fromarray(a, "RGBA").save(tmp_path / "x.png")
    image, notes = io.load_image(tmp_path / "x.png")
    np.testing.assert_allclose(image, a[..., :3] / 255.0 * 0.2, atol=1e-6)
    assert any("composited onto black" in n for n in notes)


def test_16bit_grayscale_scaled_not_clipped(tmp_path):
    a = np.array([[0, 257, 32768], [65535, 1000, 50000]], np.uint16)
    Image.fromarray(a).save(tmp_path / "x.png")
    assert Image.open(tmp_path / "x.png").mode.startswith("I;16")
    image, notes = io.load_image(tmp_path / "x.png")
    np.testing.assert_allclose(image[..., 1], a / 65535.0, rtol=1e-6)
    assert image.max() == 1.0 and any("16-bit" in n and "65535" in n for n in notes)


def test_16bit_colour_png_noted(tmp_path):
    a = np.array([[[0, 256, 65535], [1000, 2000, 40000]]] * 2, np.uint16)
    image, notes = io.load_image(write_png16(tmp_path / "x.png", a))
    np.testing.assert_allclose(image, (a >> 8) / 255.0, atol=1e-6)  # Pillow keeps the high byte
    assert any("16-bit colour PNG read at 8 bits" in n for n in notes)


# --------------------------------------------------------------------------------------- Gaussians


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_save_load_round_trip_exact(tmp_path, kind):
    g = random_init(jax.random.key(1), 37, 20, 30, kind=kind)  # padded to a 256 bucket
    g = g.with_params({"colors": g.colors.at[3].set(-0.25)})
    path = gaussians_file.save_gaussians(tmp_path / "g.npz", g, init="random", psnr=float("nan"), steps=7)
    f = gaussians_file.read_gaussians(path)
    live = compact(g)
    assert (f.gaussians.kind, f.gaussians.height, f.gaussians.width) == (kind, 20, 30)
    assert f.gaussians.capacity == 37 and bool(np.all(f.gaussians.mask))
    for k, v in live.params().items():
        np.testing.assert_array_equal(np.asarray(f.gaussians.params()[k]), np.asarray(v))
    assert f.version == gaussians_file.FORMAT_VERSION and f.meta == {
        "init": "random",
        "psnr": None,
        "steps": 7,
    }
    with np.load(path) as z:  # the derived pixel-space copies, for other tools
        np.testing.assert_array_equal(z["means"], np.asarray(live.means()))
        np.testing.assert_array_equal(z["cov"], np.asarray(live.covariances()))


def _arrays(tmp_path) -> dict[str, np.ndarray]:
    g = random_init(jax.random.key(0), 5, 8, 9)
    gaussians_file.save_gaussians(tmp_path / "good.npz", g)
    with np.load(tmp_path / "good.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda a: a.update(format_version=np.asarray("igi-gaussians/99")), "unsupported format_version"),
        (lambda a: a.pop("format_version"), "no 'format_version'"),
        (lambda a: a.pop("cov"), r"missing fields \['cov'\]"),
        (lambda a: a.update(xy=a["xy"][:, :1]), "'xy' has float32"),
        (lambda a: a.update(colors=a["colors"][:3]), r"'colors' has float32\(3, 3\)"),
        (lambda a: a.update(kind=np.asarray("svd")), "unknown kind"),
        (lambda a: a.update(height=np.asarray(0)), "image size must be positive"),
        (lambda a: a.update(shape=np.full_like(a["shape"], np.nan)), "non-finite"),
        (lambda a: a.update(meta=np.asarray("{oops")), "not valid JSON"),
    ],
    ids=[
        "version",
        "no-version",
        "missing-key",
        "xy-shape",
        "count-mismatch",
        "kind",
        "height",
        "nan",
        "meta",
    ],
)
def test_bad_npz_rejected(tmp_path, edit, match):
    arrays = _arrays(tmp_path)
    edit(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=match):
        gaussians_file.load_gaussians(tmp_path / "bad.npz")


def test_pickled_object_refused(tmp_path):
    arrays = _arrays(tmp_path)
    arrays["meta"] = np.array([{"evil": print}], dtype=object)  # savez pickles object arrays
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match="pickled Python objects"):
        gaussians_file.load_gaussians(tmp_path / "bad.npz")


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_npz(tmp_path, cut):
    _arrays(tmp_path)
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "bad.npz").write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InputError, match="not a valid .npz"):
        gaussians_file.load_gaussians(tmp_path / "bad.npz")


def test_not_an_npz(tmp_path):
    Image.fromarray(rgb()).save(tmp_path / "x.png")
    with pytest.raises(InputError, match="not a valid .npz"):
        gaussians_file.load_gaussians(tmp_path / "x.png")
    with pytest.raises(InputError, match="no such file"):
        gaussians_file.load_gaussians(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------------------- writes


def _fail(f):
    f.write(b"half")
    raise OSError("disk full")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "a.json"
    io.atomic_write(path, io.json_writer({"x": float("nan"), "y": np.float32(2)}))
    assert path.read_text() == '{\n  "x": null,\n  "y": 2.0\n}\n'
    with pytest.raises(OSError, match="disk full"):
        io.atomic_write(path, _fail)
    assert path.read_text().startswith("{") and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_write_outputs_all_or_nothing(tmp_path):
    out = tmp_path / "new" / "dir"
    writers = {"a.png": io.png_writer(np.zeros((2, 2, 3))), "b.bin": _fail}
    with pytest.raises(OSError, match="disk full"):
        io.write_outputs(out, writers)
    assert list(tmp_path.iterdir()) == []  # the directories it created are gone too
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "old.txt").write_text("mine")
    with pytest.raises(OSError):
        io.write_outputs(tmp_path / "keep", writers)
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["old.txt"]
    written = io.write_outputs(out, {"a.png": writers["a.png"]})
    assert written == [out / "a.png"] and Image.open(out / "a.png").size == (2, 2)


def test_resize_names_its_filter_by_purpose():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (12, 16, 3)).astype(np.float32)
    area = io.resize(image, 6, 8, "area")  # BOX at ×2: exact 2×2 means
    np.testing.assert_allclose(area, image.reshape(6, 2, 8, 2, 3).mean(axis=(1, 3)), atol=1e-6)
    photo = io.resize(image, 6, 8, "photo")
    assert photo.shape == (6, 8, 3) and photo.dtype == np.float32 and 0 <= photo.min() <= photo.max() <= 1
    assert not np.allclose(photo, area, atol=1e-3)  # Lanczos is not the box filter
    up = io.resize(image[..., 0], 24, 32, "smooth_upsample")
    assert up.shape == (24, 32) and image[..., 0].min() <= up.min() <= up.max() <= image[..., 0].max()
    with pytest.raises(ValueError, match="purpose='bicubic'"):
        io.resize(image, 6, 8, "bicubic")
