"""``igi`` errors in the user's terms (issue 33): flags rather than option fields, the user's
paths rather than temp or lock files; ``igi render`` checks its output before rendering;
``--kernel-size`` is refused off the net init; a ``--seconds`` run records the steps it ran."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from igi_jax import io
from igi_jax.render import rescale
from tests.test_cli import assert_user_error, run

ARGS = ["--init", "random", "--gaussians", "100", "--backend", "dense"]


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "a.png"
    y, x = np.mgrid[0:32, 0:40]
    Image.fromarray(np.stack([x * 6, y * 7, (x + y) * 3], -1).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def timed_fit(png, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "out"
    code, _, err = run(["fit", png, *ARGS, "--seconds", "4", "--out", out, "--quiet"])
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--warmup", "-3"], "--warmup must be ≥ 0, got -3"),
        (["--max-side", "1"], "--max-side must be at least 2 pixels, got 1"),
        (["--solve-colors", "-2"], "--solve-colors must be"),
        (["--init", "quadtree", "--kernel-size", "4"], "--kernel-size applies to --init net only"),
    ],
)
def test_errors_name_the_flag(png, tmp_path, flags, message):
    result = run(["fit", png, *flags, "--out", tmp_path / "o"])
    assert_user_error(result, message)
    assert not any(f in result[2] for f in ("warmup_steps", "max_side", "solve_colors", "kernel_size"))


def test_seconds_run_records_the_steps_it_ran(timed_fit):
    m = json.loads((timed_fit / "metrics.json").read_text())
    assert 0 < m["steps"] < 10**9 and m["steps"] == m["history"][-1]["step"]
    assert m["options"]["steps"] is None and m["options"]["seconds"] == 4  # the budget


def test_render_checks_its_output_before_rendering(timed_fit, tmp_path, monkeypatch):
    monkeypatch.setattr(rescale, "render_at_scale", lambda *a, **k: pytest.fail("rendered first"))
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    result = run(["render", timed_fit / "gaussians.npz", "--out", blocker / "x.png"])
    assert_user_error(result, f"--out {blocker / 'x.png'}: {blocker} exists and is not a directory")
    result = run(["render", timed_fit / "gaussians.npz", "--out", blocker / "sub" / "x.png"])
    assert_user_error(result, f"--out {blocker / 'sub' / 'x.png'}: cannot create or write in {blocker}")
    assert_user_error(run(["render", timed_fit / "gaussians.npz", "--out", tmp_path]), "is a directory")


def test_write_errors_name_the_file_not_the_temp_file(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".x.png.abc.tmp"))

    monkeypatch.setattr(io.tempfile, "mkstemp", refuse)
    with pytest.raises(OSError, match=r"cannot write .*/x\.png \(Permission denied\)") as e:
        io.atomic_write(tmp_path / "x.png", lambda f: None)
    assert ".tmp" not in str(e.value)
