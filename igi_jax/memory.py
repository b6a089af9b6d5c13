"""A memory model of ``igi fit``, checked before any work, and the memory available to it.

Peak resident memory of a whole ``igi fit`` (decode, init, colour solve, compiled fit, metrics,
outputs) is modelled as linear in the canvas pixels and the number of Gaussians:

    bytes ≈ BASE + PER_PIXEL[init] · canvas pixels + PER_GAUSSIAN · Gaussians

For the quad-tree init the Gaussian count follows the image (0.06–0.18 per pixel measured), so
its per-Gaussian share is folded into ``PER_PIXEL["quadtree"]``; the random inits pay for the
count they are given. Calibration (peak RSS, ``/usr/bin/time -v``, reference backend, CPU):

* 4 × 768×512 photo crops, quad-tree, one evaluation run over the four (4 compiles): 1.04 GB;
* 4000×3000 (kodim01/05/15/23 tiled 2×2, resized; canvas 4096×3072), quad-tree (791,714
  Gaussians), ``igi fit --steps 20``: 4.17 GB (2026-12-01), i.e. 260 B per canvas pixel;
* 8000×6000 photo, quad-tree at the older scale 0.75 (2.9M Gaussians), ``--steps 2`` (issue 14,
  before the canvas change): 19.4 GB, i.e. 370 B per pixel;
* kodim23, 40,000 random Gaussians, 2,000 steps: 0.66–0.69 GB;
* ``--init net`` (shipped weights, ``--steps 20``), photos/001.png 1276×850 (canvas 1536×1024,
  108,562 Gaussians): 1.96 GB; photos/003.png 1436×730 (canvas 1536×768, 103,314): 1.94 GB
  (2026-12-04), i.e. up to 880 B per canvas pixel; 1.79–1.92 GiB reported on other 1–1.1 MP photos.

``PER_PIXEL["quadtree"]`` = 400 B covers both large runs with a margin (the model says 5.9 and
21.0 GB for them): the list lengths, hence memory, grow with the Gaussians' sizes, which vary
with the content and the init's scale.

The model is an estimate meant to refuse hopeless runs with a clear remedy, not an allocator:
it is compared with :func:`available_bytes` (``IGI_MEMORY_LIMIT``; else, on an accelerator, the
device's own memory (``memory_stats()["bytes_limit"]``); else host RAM: the cgroup limit and
``MemAvailable``), and a run is refused only when its estimate exceeds that. The calibration is
host RSS on CPU; on a GPU the same estimate is compared with device memory, unmeasured there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jax

from igi_jax.errors import InputError

GB = 1e9
BASE = 0.9 * GB  # Python, JAX, XLA and the compiled programs
# Bytes per canvas pixel. The net's 1,200 B bounds its 1 MP runs, the 1.92 GiB (2.06 GB)
# even on the smallest 1 MP canvas, 1024×1024 (the model: 2.16 GB); calibrated at ~1 MP only.
PER_PIXEL = {"quadtree": 400.0, "net": 1200.0, "random": 60.0, "random-gi": 60.0}
PER_GAUSSIAN = 1000.0  # bytes per Gaussian (params, optimiser state, gradients, lists)
DEFAULT_PER_PIXEL = 400.0  # inits without a measurement of their own
ENV_VAR = "IGI_MEMORY_LIMIT"  # e.g. "8G", "512M" or a number of bytes


def estimate_bytes(canvas_pixels: int, init: str, num_gaussians: int | None = None) -> float:
    """Estimated peak memory of a fit: ``BASE + PER_PIXEL[init]·pixels (+ PER_GAUSSIAN·N)``."""
    estimate = BASE + PER_PIXEL.get(init, DEFAULT_PER_PIXEL) * canvas_pixels
    if init != "quadtree" and num_gaussians is not None:
        estimate += PER_GAUSSIAN * num_gaussians
    return estimate


def parse_bytes(text: str) -> int:
    """``"8G"``, ``"512M"``, ``"1.5GB"``, ``"1000000"`` → bytes (decimal units)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)[bB]?\s*", text)
    if not m:
        raise InputError(f"{ENV_VAR}={text!r}: expected a size such as 8G, 512M or a number of bytes")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def device_bytes() -> float | None:
    """Memory of the default JAX device when it is an accelerator (``bytes_limit`` of its
    ``memory_stats()``); ``None`` on CPU or when the runtime does not report it."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return None
    try:
        stats = device.memory_stats()
    except NotImplementedError:  # not every PJRT plugin implements it
        return None
    limit = (stats or {}).get("bytes_limit")
    return float(limit) if limit else None


def available_bytes() -> float | None:
    """Memory a fit may use: ``$IGI_MEMORY_LIMIT``, else the accelerator's memory
    (:func:`device_bytes`), else host RAM, min(cgroup limit, MemAvailable); ``None`` when unknown.

    Raises:
      InputError: ``$IGI_MEMORY_LIMIT`` is not a size.
    """
    device = None if os.environ.get(ENV_VAR) else device_bytes()
    return device if device is not None else host_limit_bytes()


def host_limit_bytes() -> float | None:
    """Host memory a decode may use: ``$IGI_MEMORY_LIMIT``, else :func:`host_bytes`.

    Raises:
      InputError: ``$IGI_MEMORY_LIMIT`` is not a size.
    """
    if os.environ.get(ENV_VAR):
        return float(parse_bytes(os.environ[ENV_VAR]))
    return host_bytes()


def host_bytes() -> float | None:
    """Host RAM a process may use: min(cgroup limit, MemAvailable); ``None`` when unknown (not Linux)."""
    found = []
    try:
        meminfo = Path("/proc/meminfo").read_text()
        found.append(int(re.search(r"MemAvailable:\s+(\d+) kB", meminfo).group(1)) * 1024)
    except (OSError, AttributeError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            found.append(int(limit))
    except OSError:
        pass
    return float(min(found)) if found else None


def scaled_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """``(height, width)`` downscaled (aspect kept, rounded) so the longer side is ≤ ``max_side``."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    s = max_side / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def largest_side(height: int, width: int, init: str, budget: float, num_gaussians: int | None = None) -> int:
    """The largest ``--max-side`` whose fit the model puts within ``budget`` bytes (0: none)."""
    from igi_jax.compile_cache import canvas_size

    side = max(height, width)
    while side >= 16:
        canvas = canvas_size(*scaled_size(height, width, side))
        if estimate_bytes(canvas[0] * canvas[1], init, num_gaussians) <= budget:
            return side
        side = int(side * 0.95)
    return 0
