"""``igi fit --init net``: the flags exist and every misuse is one clear error, before any compile."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from igi_jax.cli import main
from igi_jax.net import weights as weights_lib


@pytest.fixture()
def png(tmp_path):
    path = tmp_path / "img.png"
    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(path)
    return path


def _run(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def test_net_without_weights_is_a_usage_error(png, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(weights_lib, "DEFAULT_WEIGHTS", tmp_path / "absent.npz")
    rc, err = _run(capsys, "fit", png, "--init", "net", "--steps", "1", "--out", tmp_path / "o")
    assert rc == 2 and "needs trained weights" in err and "--weights" in err
    assert not (tmp_path / "o").exists()


def test_bad_weights_and_flags(png, tmp_path, capsys):
    rc, err = _run(
        capsys, "fit", png, "--init", "net", "--weights", tmp_path / "nope.npz", "--out", tmp_path / "o"
    )
    assert rc == 2 and "weights not found" in err
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    rc, err = _run(
        capsys,
        "fit",
        png,
        "--init",
        "net",
        "--weights",
        tmp_path / "bad.npz",
        "--steps",
        "1",
        "--out",
        tmp_path / "o",
    )
    assert rc == 2 and "not a readable .npz" in err
    rc, err = _run(capsys, "fit", png, "--weights", tmp_path / "bad.npz", "--out", tmp_path / "o")
    assert rc == 2 and "--init net only" in err
    rc, err = _run(capsys, "fit", png, "--init", "net", "--kernel-size", "7", "--out", tmp_path / "o")
    assert rc == 2 and "--kernel-size" in err
    rc, err = _run(capsys, "fit", png, "--net-shrink", "0.8", "--out", tmp_path / "o")
    assert rc == 2 and "--init net only" in err
    for bad in ("nan", "inf", "0", "-1"):
        rc, err = _run(capsys, "fit", png, "--init", "net", "--net-shrink", bad, "--out", tmp_path / "o")
        assert rc == 2 and "--net-shrink must be a number in (0, 4]" in err, bad
    assert not (tmp_path / "o").exists()


def test_net_fit_narrows_when_it_fine_tunes(png, tmp_path, capsys):
    import json

    from flax import nnx

    from igi_jax.net import InstantGINet, NetConfig, save_weights

    weights = save_weights(tmp_path / "tiny.npz", InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(0)))
    for steps, want in (("2", 0.8), ("0", 1.0)):
        out = tmp_path / f"o{steps}"
        rc, err = _run(
            capsys,
            "fit",
            png,
            "--init",
            "net",
            "--weights",
            weights,
            "--steps",
            steps,
            "--out",
            out,
            "--quiet",
        )
        assert rc == 0, err
        m = json.loads((out / "metrics.json").read_text())
        assert m["options"]["net_shrink"] == want
        assert m["init_info"].get("shrink", 1.0) == want and m["init_info"]["solve_iters"] == 8
    rc, err = _run(
        capsys,
        "fit",
        png,
        "--init",
        "net",
        "--weights",
        weights,
        "--steps",
        "2",
        "--net-shrink",
        "1",
        "--out",
        tmp_path / "own",
        "--quiet",
    )
    assert rc == 0
    assert json.loads((tmp_path / "own" / "metrics.json").read_text())["options"]["net_shrink"] == 1.0
