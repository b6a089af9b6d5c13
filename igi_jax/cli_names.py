"""The choices and defaults ``igi``'s argument parser shows, without importing JAX: ``igi --help``
should not pay JAX's import (~3 s). ``tests/test_startup.py`` checks they equal the real ones."""

INITS = ("random", "random-gi", "quadtree", "net")  # igi_jax.init.INITS
KINDS = ("rs", "cholesky")  # igi_jax.gaussians.KINDS
BACKENDS = (
    "auto",
    "reference",
    "pallas",
    "pallas-interpret",
    "dense",
    "cpu-native",
)  # igi_jax.render.api.BACKENDS
DEFAULT_INIT = "quadtree"  # igi_jax.one_image.DEFAULT_INIT
DEFAULT_STEPS = 2000  # igi_jax.one_image.DEFAULT_STEPS
UNLIMITED_STEPS = 10**9  # igi_jax.one_image.UNLIMITED_STEPS
