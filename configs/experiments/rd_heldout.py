"""Which init gives the codec's best curve, decided on the held-out photos (never Kodak).

    python evaluate.py --config configs/experiments/rd_heldout.py
    python -m igi_jax.experiments.rd_report bench/results/rd_heldout

The 5 photos of :data:`igi_jax.data.samples.VAL_PHOTOS` (held out of the networks' training) at
640 px on the long side (about Kodak's size), the five rates of ``rd_kodak``, the ``fast`` budget
(1,000 fit + 300 quantisation-aware steps) from the quad-tree and from the shipped second net
(``eval_kodak_v2.WEIGHTS``), JPEG measured beside them. Each ``igi-net-fast`` row pairs with
``igi-quadtree-fast`` image by image in the report's table (the same images at every rate).
"""

from configs.experiments import eval_kodak_v2
from configs.experiments.rd_kodak import ENCODES
from igi_jax.data.samples import VAL_PHOTOS
from igi_jax.experiments.rd import RateDistortion


def get_config(arg: str | None = None) -> RateDistortion:
    if arg:
        raise ValueError(f"rd_heldout takes no argument, got {arg!r}")
    return RateDistortion(
        dataset="photos",
        only=tuple(VAL_PHOTOS),
        max_side=640,
        bpps=(0.12, 0.25, 0.5, 1.0, 1.5),
        encodes=ENCODES[:1],
        inits=("quadtree", "net"),
        codecs=("jpeg",),
        weights=eval_kodak_v2.WEIGHTS,
        out="bench/results/rd_heldout",
        notes="Issue 34: which init gives the codec's best curve, on the held-out photos.",
    )
