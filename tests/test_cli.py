"""Tests for the ``igi`` CLI (in-process ``cli.main``): user errors, one tiny end-to-end fit, render, info.

The fit runs once per module (random init, 40×48 RGBA image, 20 steps, dense backend so it
compiles fast); the render/info/evaluate tests reuse its output.
"""

from __future__ import annotations

import contextlib
import io as std_io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from igi_jax import cli, evaluate, gaussians_file, io, memory, one_image, plot
from igi_jax.outdir import OutputDir

H, W = 40, 48
FIT_ARGS = ["--init", "random", "--gaussians", "150", "--steps", "20", "--backend", "dense", "--seed", "3"]


def synthetic(h: int = H, w: int = W) -> np.ndarray:
    """Smooth gradients and a blob, RGBA with a half-transparent band: ``[h, w, 4]`` uint8."""
    y, x = np.mgrid[0:h, 0:w] + 0.5
    r, g = x / w, y / h
    b = np.exp(-((x - 0.6 * w) ** 2 + (y - 0.4 * h) ** 2) / (0.1 * h * w))
    a = np.where(y < 5, 0.5, 1.0)
    return np.round(np.stack([r, g, b, a], -1) * 255).astype(np.uint8)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = std_io.StringIO(), std_io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_user_error(result: tuple[int, str, str], match: str, code: int = 2, only: bool = True) -> None:
    """Exit ``code``, stderr's last line ``igi: error: ...`` (its only line if ``only``), no traceback."""
    rc, out, err = result
    assert rc == code, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("igi: error: ") and match in lines[-1], err
    assert "Traceback" not in err and out == "" and (len(lines) == 1 or not only), err


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """``igi fit`` once; returns (out_dir, stdout, stderr, FitRun)."""
    root = tmp_path_factory.mktemp("fit")
    Image.fromarray(synthetic(), "RGBA").save(root / "syn.png")
    runs = []
    original = one_image.fit_image

    def keep(*args, **kwargs):
        runs.append(original(*args, **kwargs))
        return runs[-1]

    one_image.fit_image = keep  # keep the FitRun for the failure test below
    try:
        rc, out, err = run(["fit", root / "syn.png", *FIT_ARGS, "--out", root / "out"])
    finally:
        one_image.fit_image = original
    assert rc == 0, err
    return root / "out", out, err, runs[0]


# ------------------------------------------------------------------------------------ bad input


@pytest.fixture
def png(tmp_path):
    Image.fromarray(synthetic(), "RGBA").save(tmp_path / "img.png")
    return tmp_path / "img.png"


def test_missing_image(tmp_path):
    assert_user_error(run(["fit", tmp_path / "nope.png", "--out", tmp_path / "o"]), "no such file")
    assert not (tmp_path / "o").exists()


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("hello")
    assert_user_error(run(["fit", tmp_path / "x.png", *FIT_ARGS, "--out", tmp_path / "o"]), "not an image")
    assert not (tmp_path / "o").exists()


def test_one_pixel_image(tmp_path):
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "x.png")
    assert_user_error(run(["fit", tmp_path / "x.png", *FIT_ARGS, "--out", tmp_path / "o"]), "1×1 px")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "count, match",
    [
        ("0", "at least 1"),
        ("-5", "at least 1"),
        ("5000000", "exceeds the limit of 4,000,000"),
        ("96001", "more than 50 per pixel"),
        ("abc", "expected an integer"),
    ],
)
def test_absurd_gaussian_count(png, tmp_path, count, match):
    result = run(["fit", png, "--init", "random", "--gaussians", count, "--out", tmp_path / "o"])
    assert_user_error(result, match)
    assert not (tmp_path / "o").exists()


def test_count_outside_the_net_range(png, tmp_path):
    # the range is the image's: known once the network has run, so notes come first
    result = run(["fit", png, "--init", "net", "--gaussians", "1", "--out", tmp_path / "o"])
    assert_user_error(result, "the net init gives this image 2 to", only=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["fit", "{png}", "--steps", "5", "--seconds", "3"], "not allowed with argument"),
        (["fit", "{png}", "--init", "bogus"], "invalid choice"),
        (["fit", "{png}", "--seconds", "-1"], "seconds must be in (0, ∞), got -1.0"),
        (["fit", "{png}", "--lr", "fast"], "invalid float value"),
        (["fit", "{png}", "--lr", "nan"], "lr must be a finite number, got nan"),
        (["fit", "{png}", "--lr", "inf"], "lr must be a finite number, got inf"),
        (["fit", "{png}", "--lr", "-1"], "lr must be in (0, ∞), got -1"),
        (["fit", "{png}", "--lr", "0"], "lr must be in (0, ∞), got 0"),
        (["fit", "{png}", "--warmup", "-1"], "--warmup must be ≥ 0, got -1"),
        (["fit", "{png}", "--seconds", "inf"], "seconds must be a finite number"),
        (["fit", "{png}", "--seconds", "nan"], "seconds must be a finite number"),
        (["fit", "{png}", "--log-every", "0"], "--log-every must be ≥ 1"),
        (["fit", "{png}", "--seed", "-3"], "seed must be in [0, "),
        (["fit", "{png}", "--solve-colors", "-2"], "--solve-colors must be in [0, 10,000]"),
        (["fit", "{png}", "--config", "{png}.bad_config.py"], "decay_rate must be in (0, 1], got 1.5"),
        (["fit", "{png}", "--backend", "pallas"], "needs a GPU"),
        (["fit", "{png}", "--config", "{png}.missing.py"], "no such config file"),
        (["fit", "{png}", "--out", "{png}"], "is not a directory"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors(png, tmp_path, argv, match):
    config = Path(f"{png}.bad_config.py")
    if str(config) in [a.format(png=png) for a in argv]:
        config.write_text("def get_config():\n    return {'decay_rate': 1.5}\n")
    assert_user_error(run([a.format(png=png) for a in argv]), match)
    assert {p.name for p in tmp_path.iterdir()} <= {"img.png", config.name}  # nothing written


def test_help_exits_zero():
    rc, out, _ = run(["fit", "--help"])
    assert rc == 0 and "--solve-colors" in out


def test_an_internal_value_error_is_not_swallowed(fitted, monkeypatch):
    """A plain ValueError is a bug, not bad input: it must reach the caller with its traceback."""

    def broken(*args, **kwargs):
        raise ValueError("internal invariant broken")

    monkeypatch.setattr(gaussians_file, "read_gaussians", broken)
    with pytest.raises(ValueError, match="internal invariant broken"):
        run(["info", fitted[0] / "gaussians.npz"])


@pytest.mark.parametrize("error, code", [(io.InputError("bad flag"), 2), (FileNotFoundError("gone"), 1)])
def test_user_errors_are_one_line(error, code):
    def fail() -> int:
        raise error

    err = std_io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.guarded("igi", fail) == code
    assert err.getvalue() == f"igi: error: {error}\n"


def _bad_npz(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "g.npz"
    if kind == "truncated":
        path.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    else:
        arrays = {"format_version": np.asarray("igi-gaussians/0")}
        if kind == "pickle":
            arrays = {
                "format_version": np.asarray(gaussians_file.FORMAT_VERSION),
                "meta": np.array([{}], dtype=object),
            }
        np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "kind, match", [("truncated", "not a valid .npz"), ("version", "format_version"), ("pickle", "pickled")]
)
@pytest.mark.parametrize("command", ["render", "info"])
def test_bad_npz(tmp_path, command, kind, match):
    assert_user_error(run([command, _bad_npz(tmp_path, kind)]), match)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]


# ------------------------------------------------------------------------------------ end to end


def test_fit_outputs(fitted):
    out, stdout, stderr, _ = fitted
    assert sorted(p.name for p in out.iterdir()) == sorted(one_image.OUTPUT_FILES)  # no temp files left
    assert f"wrote {out}/" in stdout and "PSNR" in stdout
    assert "composited onto black" in stderr and "20/20 steps" in stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["num_gaussians"] == 150 and m["steps"] == 20 and m["init"] == "random"
    assert np.isfinite(m["psnr"]) and m["psnr"] > m["history"][0]["psnr"]
    assert m["ms_ssim"] is None and "161" in m["ms_ssim_note"] and m["ssim"] is not None
    assert m["image"] == {"path": str((out.parent / "syn.png").resolve()), "height": H, "width": W}
    assert m["init_seconds"] > 0 and m["fit_seconds"] > 0 and m["compile_seconds"] >= 0  # 0: cached
    parts = m["init_seconds"] + m["compile_seconds"] + m["fit_seconds"]
    assert m["total_seconds"] == pytest.approx(parts)
    assert any("composited onto black" in n for n in m["notes"])
    assert Image.open(out / "render.png").size == (W, H)
    assert Image.open(out / "psnr_vs_time.png").format == "PNG"
    g = gaussians_file.load_gaussians(out / "gaussians.npz")
    assert (g.capacity, g.height, g.width, g.kind) == (150, H, W, "rs")


@pytest.mark.parametrize("scale, size", [(2, (2 * W, 2 * H)), (0.5, (W // 2, H // 2)), (1.3, (62, 52))])
def test_render_scaled(fitted, tmp_path, scale, size):
    out = tmp_path / "sub" / "big.png"
    rc, stdout, err = run(
        ["render", fitted[0] / "gaussians.npz", "--scale", scale, "--out", out, "--backend", "dense"]
    )
    assert rc == 0, err
    assert Image.open(out).size == size and f"{size[0]}×{size[1]} px" in stdout


def test_render_scale_one_matches_fit(fitted, tmp_path):
    rc, _, err = run(
        ["render", fitted[0] / "gaussians.npz", "--out", tmp_path / "r.png", "--backend", "dense"]
    )
    assert rc == 0, err
    again = np.asarray(Image.open(tmp_path / "r.png"), np.int16)
    original = np.asarray(Image.open(fitted[0] / "render.png"), np.int16)
    assert np.abs(again - original).max() <= 1  # float summation order may flip a rounding


@pytest.mark.parametrize("scale", ["0", "-2", "nan", "1e6"])
def test_render_bad_scale(fitted, tmp_path, scale):
    assert_user_error(
        run(["render", fitted[0] / "gaussians.npz", "--scale", scale, "--out", tmp_path / "r.png"]), "scale"
    )
    assert list(tmp_path.iterdir()) == []


def test_info(fitted):
    rc, stdout, err = run(["info", fitted[0] / "gaussians.npz"])
    assert rc == 0, err
    assert gaussians_file.FORMAT_VERSION in stdout and "150 (rs" in stdout and f"{W}×{H} px" in stdout
    assert "meta init        random" in stdout


def test_failed_write_leaves_nothing(fitted, tmp_path, monkeypatch):
    def broken_plot(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(one_image, "fit_image", lambda *a, **k: fitted[3])
    monkeypatch.setattr(plot, "write_psnr_plot", broken_plot)
    image = fitted[0].parent / "syn.png"
    assert_user_error(
        run(["fit", image, *FIT_ARGS, "--out", tmp_path / "o", "--quiet"]), "No space", code=1, only=False
    )  # conversion notes may precede it
    assert list(tmp_path.iterdir()) == []


def test_evaluate_fits_matches_metrics(fitted, tmp_path):
    report = evaluate.measure_fits(fitted[0], backend="dense", log=lambda _: None)
    stored = json.loads((fitted[0] / "metrics.json").read_text())
    assert report["failed"] == 0 and abs(report["mean"]["psnr"] - stored["psnr"]) < 1e-3
    paths = evaluate.write_report(tmp_path, report)
    assert [p.name for p in paths] == ["eval.json", "eval.md"] and "**mean**" in paths[1].read_text()


# ------------------------------------------------------------------------------ output folders


def test_diverging_fit_stops_and_writes_nothing(png, tmp_path):
    config = tmp_path / "explode.py"  # colours only, with a rate that overflows float32 at once
    config.write_text(
        "def get_config():\n    return {'optimizer': 'adam', 'lr': 1e37,\n"
        "            'lr_groups': {'xy': 0.0, 'shape': 0.0, 'colors': 10.0}}\n"
    )
    result = run(["fit", png, *FIT_ARGS, "--config", config, "--out", tmp_path / "o", "--quiet"])
    assert_user_error(result, "the fit diverged: its loss or parameters became non-finite", only=False)
    assert "try a lower learning rate" in result[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explode.py", "img.png"]


def test_second_writer_is_refused(png, tmp_path):
    out = tmp_path / "o"
    with OutputDir(out):  # another writer holds the folder
        result = run(["fit", png, *FIT_ARGS, "--out", out, "--quiet"])
        assert_user_error(
            result,
            f"output directory {out} is being written by another process (pid {os.getpid()}",
            only=False,
        )
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]  # lock released


def test_lock_of_a_dead_process_is_taken_over(png, tmp_path):
    out = tmp_path / "o"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    (tmp_path / ".o.igi-lock").write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename}))
    rc, _, err = run(["fit", png, *FIT_ARGS, "--out", out, "--quiet"])
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png", "o"]


def test_existing_outputs_need_overwrite_which_leaves_no_stale_file(fitted, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "render_x2.png").write_bytes(b"from an earlier run")
    image = fitted[0].parent / "syn.png"
    assert_user_error(
        run(["fit", image, *FIT_ARGS, "--out", out, "--quiet"]),
        f"output directory {out} already holds files; pass --overwrite",
        only=False,
    )
    assert [p.name for p in out.iterdir()] == ["render_x2.png"]
    rc, _, err = run(["fit", image, *FIT_ARGS, "--out", out, "--quiet", "--overwrite"])
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(one_image.OUTPUT_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no lock, staging or old folder left


# ------------------------------------------------------------------------------------ memory


def test_image_over_the_memory_limit_is_refused_with_a_remedy(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((1500, 2000, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setenv(memory.ENV_VAR, "1.5G")  # the model puts this image at ~2.2 GB
    result = run(["fit", tmp_path / "big.png", "--out", tmp_path / "o", "--quiet"])
    assert_user_error(
        result,
        "a quadtree fit of this 2000×1500 image needs about 2.2 GB of memory, "
        "more than the 1.5 GB $IGI_MEMORY_LIMIT; downscale it on load with --max-side",
    )
    side = int(result[2].split("--max-side ")[1].split()[0])
    assert 1000 < side < 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]
    options = one_image.FitOptions()
    one_image.check_memory(*memory.scaled_size(1500, 2000, side), options)  # the remedy works
    with pytest.raises(io.InputError, match="needs about"):
        one_image.check_memory(*memory.scaled_size(1500, 2000, int(side * 1.2)), options)


def test_max_side_downscales_on_load(png, tmp_path):
    rc, _, err = run(["fit", png, *FIT_ARGS, "--max-side", "24", "--out", tmp_path / "o", "--quiet"])
    assert rc == 0, err
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert (m["image"]["height"], m["image"]["width"]) == (20, 24)
    assert f"downscaled from {W}×{H} to 24×20 px (--max-side 24)" in m["notes"]
    g = gaussians_file.load_gaussians(tmp_path / "o" / "gaussians.npz")
    assert (g.height, g.width) == (20, 24)
