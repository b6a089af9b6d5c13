"""``results.json``: the experiments' resumable record, written atomically after every entry.

Layout (``format`` :data:`FORMAT`)::

    {"format": "igi-experiments/1",
     "settings": {...},            # what every entry depends on (budgets, fit config, dataset,
                                   #  downscale, weights hash, seed, backend); must match to resume
     "runs": [{"command", "started", "finished", "machine", "code"}, ...],  # one per invocation
     "entries": [{"image", "init", "k", "impl", ...}, ...]}

An entry is keyed by ``(image, init, k, impl)`` (``k`` is ``null`` for inits that do not depend on
it); a finished entry is never recomputed. Budget records inside an entry:
``{"budget": {"steps": S} | {"seconds": T}, "steps", "seconds", "psnr", "ssim", "ms_ssim"}``.

Provenance: every entry records ``code``, the commit it was made with (a resumed run may mix
several). A tree with uncommitted changes to tracked files (outside the results folder) is
refused, unless ``allow_dirty``: then the entries say ``<rev>-dirty`` and the report flags them.
(Entries made before this rule have no ``code``; their run's ``code`` stands for them.)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from igi_jax import io

FORMAT = "igi-experiments/1"
Key = tuple[str, str, int | None, str]


def entry_key(entry: dict[str, Any]) -> Key:
    """``(image, init, k, impl)`` of an entry."""
    return entry["image"], entry["init"], entry["k"], entry["impl"]


def machine() -> dict[str, Any]:
    """Where the numbers were measured: platform, CPU count, JAX backend and devices, load."""
    import jax

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [d.device_kind for d in jax.devices()],
        "loadavg": list(load),
    }


def code_version(exclude: str | os.PathLike | None = None) -> str | None:
    """The git revision of the checkout igi_jax runs from (short hash, ``-dirty`` when tracked
    files outside ``exclude``, the results folder, differ from it), or ``None`` (an installed
    copy, or no git): a resumed run may mix entries of several revisions."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    spec = ["--", "."]
    if exclude is not None and Path(exclude).resolve().is_relative_to(root):
        spec.append(f":(exclude){Path(exclude).resolve()}")
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", *spec],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty.strip() else rev or None


class ResultStore:
    """The entries of one ``results.json``, saved atomically after each :meth:`add`."""

    def __init__(
        self,
        path: str | os.PathLike,
        settings: dict[str, Any],
        command: list[str],
        *,
        allow_dirty: bool = False,
    ):
        self.path = Path(path)
        # Other runs' results (bench/results/*) are outputs, not code: runs may go side by side.
        folder = self.path.resolve().parent
        shared = next((p for p in folder.parents if p.name == "results" and p.parent.name == "bench"), None)
        self.code = code_version(exclude=shared or folder)
        if self.code is not None and self.code.endswith("-dirty") and not allow_dirty:
            raise io.InputError(
                f"the checkout has uncommitted changes ({self.code}): a result must name the commit "
                "it was made with; commit first, or pass --allow-dirty (entries are then marked dirty)"
            )
        settings = json.loads(json.dumps(settings))  # what it will read back as
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
            except ValueError as e:
                raise io.InputError(f"{self.path}: not valid JSON ({e})") from None
            if data.get("format") != FORMAT:
                raise io.InputError(f"{self.path}: format {data.get('format')!r}, expected {FORMAT!r}")
            if data.get("settings") != settings:
                diff = sorted(
                    k
                    for k in set(settings) | set(data.get("settings", {}))
                    if settings.get(k) != data.get("settings", {}).get(k)
                )
                raise io.InputError(
                    f"{self.path} was made with other settings ({', '.join(diff)}); "
                    "resume with the same ones or choose another --out"
                )
        else:
            data = {"format": FORMAT, "settings": settings, "runs": [], "entries": []}
        self.data = data
        self.data["runs"].append(
            {
                "command": command,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "finished": None,
                "machine": machine(),
                "code": self.code,
            }
        )
        self._keys = {entry_key(e) for e in data["entries"]}

    @property
    def entries(self) -> list[dict[str, Any]]:
        return self.data["entries"]

    def has(self, key: Key) -> bool:
        return key in self._keys

    def get(self, key: Key) -> dict[str, Any] | None:
        return next((e for e in self.entries if entry_key(e) == key), None)

    def add(self, entry: dict[str, Any]) -> None:
        """Append ``entry`` and rewrite the file atomically."""
        key = entry_key(entry)
        if key in self._keys:
            raise ValueError(f"entry {key} already exists")
        self.entries.append({**entry, "code": self.code})
        self._keys.add(key)
        self.save()

    def finish(self) -> None:
        self.data["runs"][-1]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.save()

    def save(self) -> None:
        io.atomic_write(self.path, io.json_writer(self.data))


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``results.json`` (checked format)."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise io.InputError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
    return data
