"""Every experiment config reproduces its committed results: the same settings (so a rerun resumes
and recomputes nothing), the same images and the same rows, and no absolute path in a result."""

import json
import re
from pathlib import Path

import pytest

from igi_jax.experiments.config import Experiment, datasets_root, load_experiment
from igi_jax.experiments.runner import dataset_images

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "experiments").glob("[a-z]*.py"))


def test_there_are_configs():
    assert len(CONFIGS) >= 6


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_matches_its_committed_results(path):
    exp = load_experiment(path)
    assert isinstance(exp, Experiment) and exp.name == path.stem and exp.notes
    assert not Path(exp.out).is_absolute() and not Path(exp.dataset).is_absolute()
    stored_path = exp.out_dir / "results.json"
    assert stored_path.exists(), f"{path.name}: no committed results at {exp.out}"
    stored = json.loads(stored_path.read_text())
    if not exp.dataset_dir.is_dir():
        pytest.skip(f"dataset {exp.dataset} not under {datasets_root()}")
    settings = json.loads(json.dumps(exp.resolved().settings()))
    assert settings == stored["settings"]  # the runner would resume, not refuse
    assert [p.stem for p in dataset_images(exp)] == sorted({e["image"] for e in stored["entries"]})
    impls = ["jax"] + ([exp.baseline] if exp.baseline else [])
    assert {(e["init"], e["impl"]) for e in stored["entries"]} == {(i, m) for i in exp.inits for m in impls}


def test_no_absolute_paths_in_committed_results():
    for p in sorted((ROOT / "bench" / "results").glob("*/results.json")):
        text = p.read_text()
        assert not re.search(r'"(/work|/tmp|/home)', text), p
