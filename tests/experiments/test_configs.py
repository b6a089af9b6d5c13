"""Every experiment config reproduces its committed results: the same settings (so a rerun resumes
and recomputes nothing), the same images and the same rows, and no absolute path in a result."""

import json
import re
from pathlib import Path

import pytest

from igi_jax import config_file
from igi_jax.experiments import rd
from igi_jax.experiments.config import Experiment, datasets_root, load_experiment, resolve_dataset
from igi_jax.experiments.rd import RateDistortion
from igi_jax.experiments.runner import dataset_images

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "experiments").glob("[a-z]*.py"))
# Committed results that today's code no longer resumes, until they are re-made (strict: a re-made
# one fails here until it leaves this list), by test id (the file's stem, ``:ARG`` for a variant
# a config lists in ``VARIANTS``). rd_kodak was fitted at FitConfig()'s rates before 0d72e68 and
# quantised without a covariance knee before a703582; the net_v2 runs trimmed files past their
# budget only after the quantisation-aware steps, before b83076e; the first net's curve was coded
# with float16 positions.
STALE = {
    "rd_kodak": "made at 9a8a27d: python evaluate.py --config configs/experiments/rd_kodak.py (~2.5 h)",
    "rd_kodak:net": "made at 6b17ef1 (float16 positions), kept as the first net's curve",
    "rd_kodak:net_v2": (
        "made at a703582: python evaluate.py --config configs/experiments/rd_kodak.py:net_v2 (~1 h)"
    ),
    "rd_kodak:net_v2_long": (
        "made at 455d39d: python evaluate.py --config configs/experiments/rd_kodak.py:net_v2_long (~75 min)"
    ),
}


def _variants(path: Path) -> list[str]:
    """``path`` and, for a config that lists ``VARIANTS = (ARG, …)``, ``path:ARG`` for each but
    the default (its first)."""
    text = path.read_text()
    if "\nVARIANTS = " not in text:
        return [str(path)]
    variants = config_file.load_module(path).VARIANTS
    return [str(path)] + [f"{path}:{arg}" for arg in variants[1:]]


def _param(spec: str):
    name = Path(spec).name.removesuffix(".py").replace(".py:", ":")
    reason = STALE.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=f"stale results, {reason}")] if reason else []
    return pytest.param(spec, id=name, marks=marks)


def test_there_are_configs():
    assert len(CONFIGS) >= 6


@pytest.mark.parametrize("path", [_param(s) for p in CONFIGS for s in _variants(p)])
def test_config_matches_its_committed_results(path):
    exp = load_experiment(path)
    file, arg = config_file.split_arg(path)
    name = Path(file).stem + (f"-{arg}" if arg else "")
    if isinstance(exp, RateDistortion):
        return _check_rd(name, exp)
    assert isinstance(exp, Experiment) and exp.name == name and exp.notes
    assert not Path(exp.out).is_absolute() and not Path(exp.dataset).is_absolute()
    stored_path = exp.out_dir / "results.json"
    assert stored_path.exists(), f"{name}: no committed results at {exp.out}"
    stored = json.loads(stored_path.read_text())
    if not exp.dataset_dir.is_dir():
        pytest.skip(f"dataset {exp.dataset} not under {datasets_root()}")
    settings = json.loads(json.dumps(exp.resolved().settings()))
    assert settings == stored["settings"]  # the runner would resume, not refuse
    assert [p.stem for p in dataset_images(exp)] == sorted({e["image"] for e in stored["entries"]})
    impls = ["jax"] + ([exp.baseline] if exp.baseline else [])
    assert {(e["init"], e["impl"]) for e in stored["entries"]} == {(i, m) for i in exp.inits for m in impls}


def _check_rd(name: str, exp: RateDistortion) -> None:
    """A rate–distortion config: its committed results resume (same settings), name only its
    images and methods, and every rate is at most its target."""
    assert exp.name == name and exp.notes and not Path(exp.out).is_absolute()
    stored = json.loads((exp.out_dir / "results.json").read_text())
    if not resolve_dataset(exp.dataset).is_dir():
        pytest.skip(f"dataset {exp.dataset} not under {datasets_root()}")
    assert json.loads(json.dumps(exp.settings())) == stored["settings"]
    assert {e["image"] for e in stored["entries"]} <= {p.stem for p in rd.dataset_images(exp)}
    assert {e["init"] for e in stored["entries"]} <= set(exp.methods)
    assert all(e["bpp"] <= e["target_bpp"] or e["init"] in exp.codecs for e in stored["entries"])


def test_no_absolute_paths_in_committed_results():
    for p in sorted((ROOT / "bench" / "results").glob("*/results.json")):
        text = p.read_text()
        assert not re.search(r'"(/work|/tmp|/home)', text), p
