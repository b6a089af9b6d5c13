"""Initialisations of a Gaussian set for one image, in one place.

* ``random``: Instant-GI's random init (scales 1–2 px), the paper's comparison baseline;
* ``random-gi``: GaussianImage's random init (scales 0.5–1.5 px);
* ``quadtree``: the official non-learned content-adaptive init (``quard``);
* ``net``: the Instant-GI network (:mod:`igi_jax.net`), from a weights file.

Every init reports its wall time, which counts on the fit's time axis.
"""

from igi_jax.init.choices import INITS, InitResult, initialize

__all__ = ["INITS", "InitResult", "initialize"]
