"""Initialisations of a Gaussian set for one image, in one registry (:mod:`igi_jax.init.choices`).

* ``random``: Instant-GI's random init (scales 1–2 px), the paper's comparison baseline;
* ``random-gi``: GaussianImage's random init (scales 0.5–1.5 px);
* ``quadtree``: the official non-learned content-adaptive init (``quard``);
* ``net``: the Instant-GI network (:mod:`igi_jax.net`), from a weights file;
* ``grad-dither``, ``ellipse``: the paper's Table 3 ablations of the net init
  (:mod:`igi_jax.init.ablations`).

Each may be followed by the least-squares colour solve (``"net+solve"`` as a spec). Every init
reports its wall time, which counts on the fit's time axis.
"""

from igi_jax.init.choices import (
    BASES,
    INITS,
    SOLVE_ITERS,
    InitResult,
    InitSpec,
    initialize,
    initialize_warm,
    parse_spec,
)

__all__ = [
    "BASES",
    "INITS",
    "SOLVE_ITERS",
    "InitResult",
    "InitSpec",
    "initialize",
    "initialize_warm",
    "parse_spec",
]
