"""What a new user hits when training (issue 33), through ``train.py`` as a process.

Missing datasets, config paths from another folder, a damaged checkpoint, Ctrl-C / SIGTERM:
each is one line on stderr and an exit code, and leaves the workdir resumable.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from igi_jax.data.config import REPO
from igi_jax.train.config import load, with_data
from igi_jax.train.loop import train_and_evaluate

TRAIN = REPO / "train.py"
DATASETS = Path(os.environ.get("IGI_DATASETS") or REPO / "../shared/datasets").resolve()
CONFIG_PY = """
import json
from pathlib import Path
from igi_jax.train.config import TrainConfig
def get_config():
    return TrainConfig.from_dict(json.loads((Path(__file__).parent / "cfg.json").read_text()))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IGI_DATASETS"}
    return {**env, "JAX_PLATFORMS": "cpu", **extra}


def _train(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 300):
    return subprocess.run(
        [sys.executable, str(TRAIN), *map(str, args), "--quiet"],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def _config_file(folder: Path, cfg) -> Path:
    """A config file for ``train.py --config`` that returns ``cfg`` (e.g. the synthetic tiny one)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    (folder / "cfg.py").write_text(CONFIG_PY)
    return folder / "cfg.py"


def _steps(ckpts: Path) -> list[int]:
    return sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit())


def _tmp_folders(ckpts: Path) -> list[str]:
    return [p.name for p in ckpts.rglob("*") if "orbax-checkpoint-tmp" in p.name]


# --- 1. a fresh clone: datasets missing, another current folder -------------------------------


@pytest.mark.parametrize("how", ["env", "flag"])
def test_missing_datasets_is_one_line_with_the_remedy_and_writes_nothing(tmp_path, how):
    empty = tmp_path / "empty"
    empty.mkdir()
    work = tmp_path / "runs" / "tiny"
    if how == "env":  # from the repository root, as the README runs it
        proc = _train("--config", "configs/net_tiny.py", "--workdir", work, env=_env(IGI_DATASETS=str(empty)))
    else:  # a relative --dataset-root from another folder is relative to that folder
        proc = _train(
            "--config", REPO / "configs/net_tiny.py", "--workdir", "runs/tiny", "--dataset-root", "empty",
            cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = _lines(proc.stderr)
    assert line.startswith("train.py: error: dataset folder ")
    assert f"{empty / 'photos'} not found" in line and f"dataset root {empty})" in line
    assert "pass --dataset-root DIR or set IGI_DATASETS=DIR to the folder holding photos/" in line
    assert not (tmp_path / "runs").exists()  # nothing written, not even the workdir


def _start_error(cfg, work: Path) -> str:
    with pytest.raises(ValueError, match="pass --dataset-root DIR or set IGI_DATASETS=DIR") as e:
        train_and_evaluate(cfg, work, progress=False, log=lambda m: None)
    assert not work.exists()
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_missing_validation_image_names_where_and_the_remedy(tiny_setup, tmp_path):
    cfg, root = tiny_setup
    message = _start_error(with_data(cfg, val=("photos", ("nope",), 1)), tmp_path / "w")
    assert message.startswith(f"validation image 'nope' not found in {root / 'photos'} (dataset root {root})")


def test_labels_whose_images_are_missing_name_where_and_the_remedy(tiny_setup, tmp_path):
    cfg, root = tiny_setup
    (tmp_path / "photos").mkdir()  # another dataset root: the validation image, no training image
    (tmp_path / "photos" / "v01.png").write_bytes((root / "photos" / "v01.png").read_bytes())
    message = _start_error(with_data(cfg, dataset_root=str(tmp_path)), tmp_path / "w")
    assert message.startswith(
        f"3 of the 3 images of the label cache {cfg.data.cache_dir} are missing, e.g. "
        f"{tmp_path / 'photos' / 'a01.png'} (dataset root {tmp_path})"
    )


def test_config_paths_are_relative_to_the_repository_root_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IGI_DATASETS", raising=False)
    tiny = load(REPO / "configs/net_tiny.py").resolved()
    assert tiny.data.cache_dir == str(REPO / "data/pseudo_ppm")
    assert tiny.data.dataset_root == str(REPO.parent / "shared/datasets")
    warm = load(f"{REPO / 'configs/net_small_v2.py'}:warm_width2").resolved()
    assert warm.init_weights == str(REPO / "bench/results/train_v2_warm_width/weights.npz")
    assert Path(warm.init_weights).is_file()
    monkeypatch.setenv("IGI_DATASETS", "here")  # the user's own paths: relative to the current folder
    assert load(REPO / "configs/net_tiny.py").resolved().data.dataset_root == str(tmp_path / "here")


@pytest.mark.skipif(not (DATASETS / "photos").is_dir(), reason="needs the photos dataset")
def test_the_tiny_config_trains_from_another_folder(tmp_path):
    proc = _train(
        "--config", REPO / "configs/net_tiny.py", "--workdir", "t", "--stop-after", "1",
        cwd=tmp_path, env=_env(IGI_DATASETS=str(DATASETS)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("train.py: step 1: ")
    assert json.loads((tmp_path / "t/config.json").read_text())["data"]["cache_dir"] == "data/pseudo_ppm"
    assert _steps(tmp_path / "t/checkpoints") == [1]


# --- 2. a damaged checkpoint -------------------------------------------------------------------


@pytest.fixture
def two_checkpoints(tiny_setup, tmp_path):
    """A workdir with checkpoints at steps 2 and 4 (both kept), and a config file for it."""
    cfg, _ = tiny_setup
    cfg = cfg.replace(steps=20, log_every=1, val_every=20, ckpt_every=2)
    work = tmp_path / "w"
    train_and_evaluate(cfg, work, stop_after=4, progress=False, log=lambda m: None)
    assert _steps(work / "checkpoints") == [2, 4]
    return _config_file(tmp_path / "cfg", cfg), work


def _truncate_data(step_dir: Path) -> None:
    data = max((p for p in step_dir.glob("state/**/d/*") if p.is_file()), key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[:100])


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(two_checkpoints):
    config, work = two_checkpoints
    ckpts = work / "checkpoints"
    _truncate_data(ckpts / "4")
    proc = _train("--config", config, "--workdir", work, "--stop-after", "6")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = _lines(proc.stderr)
    assert lines[0].startswith(f"train: checkpoint {ckpts / '4'} does not restore (")
    assert lines[0].endswith("moved to 4.unreadable, resuming from step 2")
    assert lines[1:] == [f"train: resumed from step 2 in {work}", lines[2]] and "steps 2 → 6" in lines[2]
    assert _steps(ckpts) == [4, 6] and (ckpts / "4.unreadable").is_dir()  # the latest two are kept
    steps = [json.loads(ln)["step"] for ln in (work / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_no_restorable_checkpoint_is_one_line_and_exit_2(two_checkpoints):
    config, work = two_checkpoints
    ckpts = work / "checkpoints"
    (ckpts / "4" / "state" / "_METADATA").write_text("")
    _truncate_data(ckpts / "2")
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    proc = _train("--config", config, "--workdir", work, "--stop-after", "6")
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = _lines(proc.stderr)
    assert line.startswith(f"train.py: error: no checkpoint restores: {ckpts / '4'}: JSONDecodeError: ")
    assert line.endswith(f"(nor do steps 2); move {ckpts} aside to start from step 0")
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before  # nothing moved or written


# --- 3. Ctrl-C and SIGTERM ---------------------------------------------------------------------


# As from a terminal: SIGINT not ignored (it is when pytest runs as a shell's background job, and
# children inherit that), then exec train.py itself in the same process.
_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def _interrupt(config: Path, work: Path, sig: int, after: int) -> tuple[int, list[str]]:
    """Start a run, send ``sig`` once a checkpoint past step ``after`` exists; (exit code, lines)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _DEFAULT_SIGINT, str(TRAIN), "--config", config, "--workdir", work, "--quiet"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not ((work / "checkpoints").is_dir() and max(_steps(work / "checkpoints"), default=0) > after):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, _lines(err)


def test_sigint_and_sigterm_stop_cleanly_and_the_run_resumes(tiny_setup, tmp_path):
    cfg, _ = tiny_setup
    cfg = cfg.replace(steps=500, log_every=1, val_every=500, ckpt_every=2)
    config, work = _config_file(tmp_path / "cfg", cfg), tmp_path / "w"
    pattern = re.compile(
        r"train\.py: interrupted at step (\d+); resume with the same command \(last checkpoint: step (\d+)\)"
    )
    last = 0
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        rc, lines = _interrupt(config, work, sig, after=last)
        assert rc == code, lines
        assert pattern.fullmatch(lines[-1]), lines
        assert all(ln.startswith("train: ") for ln in lines[:-1]), lines  # no traceback, no orbax
        step, ckpt = map(int, pattern.fullmatch(lines[-1]).groups())
        assert last < ckpt <= step and ckpt == max(_steps(work / "checkpoints"))
        assert not _tmp_folders(work / "checkpoints")
        if last:
            assert lines[0] == f"train: resumed from step {last} in {work}"
        last = ckpt
    proc = _train("--config", config, "--workdir", work, "--stop-after", last + 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _lines(proc.stderr)[0] == f"train: resumed from step {last} in {work}"
    steps = [json.loads(ln)["step"] for ln in (work / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, last + 3))


def test_distributed_reads_the_process_count_and_id_from_the_environment(monkeypatch):
    """The README's multi-host command sets JAX_NUM_PROCESSES / JAX_PROCESS_ID, which jax 0.10
    does not read itself."""
    import jax

    from igi_jax.train import distributed

    seen = {}
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kw: seen.update(kw))
    monkeypatch.setattr(jax.config, "update", lambda *a: None)
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    distributed.initialize()
    assert seen == {"num_processes": 4, "process_id": 3}
    distributed.initialize(num_processes=2, process_id=0)  # explicit arguments win
    assert seen == {"num_processes": 2, "process_id": 0}
