"""Issue 34's rate–distortion experiment: the ``.igi`` codec against JPEG, WebP, AVIF, JPEG 2000
and JPEG XL on Kodak, with GaussianImage's published curve beside them.

    python evaluate.py --config configs/experiments/rd_kodak.py            # resumable
    python evaluate.py --config configs/experiments/rd_kodak.py --stop-after 40m
    python -m igi_jax.experiments.rd_report bench/results/rd_kodak        # re-make the report

Five target rates from 0.12 to 1.5 bpp on the 24 full-size images; our codec from ``init``
(argument ``net`` or ``quadtree``, default quadtree) at two encode budgets: ``fast`` (1,000 fit + 300
quantisation-aware steps) and ``long`` (4,000 + 1,000). The standard codecs are measured in the
same run on the same pixels, each at its largest file within the target. Kodak is held out: no
setting here was chosen on it (the quantisers' defaults come from ``bench/results/codec_sweep.md``,
training photos).
"""

from configs.experiments import FIRST_NET
from igi_jax.experiments.rd import Encode, RateDistortion

ENCODES = (Encode("fast", 1000, 300), Encode("long", 4000, 1000))


def get_config(arg: str | None = None) -> RateDistortion:
    init = arg or "quadtree"
    if init not in ("quadtree", "net"):
        raise ValueError(f"rd_kodak: unknown init {init!r}; expected 'quadtree' or 'net'")
    return RateDistortion(
        dataset="kodak",
        bpps=(0.12, 0.25, 0.5, 1.0, 1.5),
        encodes=ENCODES,
        inits=(init,),
        weights=FIRST_NET if init == "net" else None,  # the net its committed curve was made with
        out="bench/results/rd_kodak" + ("" if init == "quadtree" else f"_{init}"),
        notes="Issue 34: Kodak rate–distortion, ours against five standard codecs.",
    )
