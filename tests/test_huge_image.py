"""Images over Pillow's decompression-bomb limit (issue 33): refused in one line without
``--max-side``, read shrunk in 8 bits with it, and one such image does not end a dataset batch."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from igi_jax import io
from igi_jax.experiments import cli as exp_cli


def fake_huge_png(path: Path, side: int = 20000) -> Path:
    """A PNG whose header says ``side``×``side`` RGB with one row of data: cheap to write,
    and Pillow refuses it at open (over twice its pixel limit) without a guard."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x10\x20\x30" * side)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def smooth_png(path: Path, h: int, w: int) -> Path:
    y, x = np.mgrid[0:h, 0:w] + 0.5
    rgb = np.stack([x / w, y / h, 0.5 + 0.4 * np.sin(x / 9)], -1)
    Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(path)
    return path


def igi(*argv, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "igi_jax.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu", **env},
        timeout=120,
    )


def test_header_size_is_read_without_the_bomb_error(tmp_path):
    assert io.image_size(fake_huge_png(tmp_path / "huge.png")) == (20000, 20000)
    assert Image.MAX_IMAGE_PIXELS is not None  # the limit is restored


def test_huge_image_without_max_side_names_the_size_and_the_remedy(tmp_path):
    with pytest.raises(io.InputError, match=r"20000×20000 px .*--max-side N"):
        io.load_image(fake_huge_png(tmp_path / "huge.png"))


def test_huge_image_decode_is_checked_against_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("IGI_MEMORY_LIMIT", "100M")  # the decode needs 1.2 GB
    with pytest.raises(io.InputError, match=r"needs 1\.2 GB to decode"):
        io.load_image(fake_huge_png(tmp_path / "huge.png"), max_side=2000)


def test_over_the_limit_is_shrunk_in_8_bits_then_resized(tmp_path, monkeypatch):
    path = smooth_png(tmp_path / "big.png", 200, 240)
    direct, _ = io.load_image(path, max_side=30)  # under the limit: the plain Lanczos path
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # now the same file is "huge"
    with pytest.raises(io.InputError, match="--max-side"):
        io.load_image(path)
    image, notes = io.load_image(path, max_side=30)
    assert image.shape == direct.shape == (25, 30, 3)
    assert any("shrunk to 60×50 in 8 bits" in n for n in notes), notes
    # Box-reduce ×4 then Lanczos vs Lanczos alone, on a smooth image: the same picture.
    assert np.abs(image - direct).mean() < 0.01
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_igi_fit_huge_image_is_one_line(tmp_path):
    huge = fake_huge_png(tmp_path / "huge.png")
    cases = [([], "1000G", "20000×20000 px"), (["--max-side", "2000"], "100M", "2000×2000 image needs about")]
    for extra, limit, match in cases:  # refused by the policy; by the memory check
        r = igi("fit", huge, "--steps", "0", "--out", tmp_path / "out", *extra, IGI_MEMORY_LIMIT=limit)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("igi: error: "), r.stderr
        assert match in lines[0] and (extra or "--max-side N" in lines[0]), r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_dataset_batch_survives_a_huge_image(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    smooth_png(data / "a.png", 32, 40)
    fake_huge_png(data / "b.png")
    smooth_png(data / "c.png", 40, 32)
    out = tmp_path / "exp"
    argv = ["--dataset", data, "--inits", "quadtree", "--steps", "0", "--fps-repeats", "1"]
    code = exp_cli.main([str(a) for a in [*argv, "--allow-dirty", "--out", out, "--backend", "dense"]])
    assert code == 2
    entries = json.loads((out / "results.json").read_text())["entries"]
    assert sorted({e["image"] for e in entries}) == ["a", "c"]
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("evaluate.py: error: ") and "b.png: 20000×20000 px" in line, line
    assert "shrink the file first" in line and "--max-side" not in line, line  # evaluate.py has none


def test_a_fit_made_with_max_side_can_be_remeasured(tmp_path):
    from igi_jax import cli, evaluate

    png = smooth_png(tmp_path / "a.png", 60, 72)
    out = tmp_path / "fits" / "a"
    argv = ["fit", png, "--max-side", "36", "--init", "random", "--gaussians", "80", "--steps", "5"]
    assert cli.main([str(a) for a in [*argv, "--backend", "dense", "--out", out, "--quiet"]]) == 0
    report = evaluate.measure_fits(tmp_path / "fits", backend="dense", log=lambda _: None)
    stored = json.loads((out / "metrics.json").read_text())
    assert report["failed"] == 0 and abs(report["mean"]["psnr"] - stored["psnr"]) < 1e-3
