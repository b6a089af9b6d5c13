"""Issue 34's rate–distortion experiment: the ``.igi`` codec against JPEG, WebP, AVIF, JPEG 2000
and JPEG XL on Kodak, with GaussianImage's published curve beside them.

    python evaluate.py --config configs/experiments/rd_kodak.py            # resumable
    python evaluate.py --config configs/experiments/rd_kodak.py --stop-after 40m
    python -m igi_jax.experiments.rd_report bench/results/rd_kodak        # re-make the report

Five target rates from 0.12 to 1.5 bpp on the 24 full-size images; our codec from ``init``
(argument ``quadtree``, the default, ``net``: the first net, or ``net_v2``: the shipped second net)
at two encode budgets: ``fast`` (1,000 fit + 300 quantisation-aware steps) and ``long`` (4,000 +
1,000); ``net_v2`` at ``fast`` only and JPEG alone beside it, since its question is the init:
its PSNRs (fixed step counts) pair with the quad-tree run's image by image
(``python -m igi_jax.experiments.rd_report bench/results/rd_kodak_net_v2 --against
bench/results/rd_kodak``; like for like only when both were made with the same fit rates:
the committed quad-tree run predates 0d72e68, where the codec took ``igi compress``'s).
``net_v2_long`` asks whether ``long`` passes JPEG below 0.5 bpp: the second net (``igi
compress``'s init at these rates), 0.25 and 0.5 bpp only, JPEG beside it. (``net``'s committed
4-image curve was made at 6b17ef1 with fp16 positions; today's quantisers no longer resume it.)
The standard codecs are measured in the same run on the same pixels, each at its largest file
within the target. Kodak is held out: no setting here was chosen on it (the quantisers' defaults
come from ``bench/results/codec_sweep*.md``, training photos).
"""

from configs.experiments import FIRST_NET, eval_kodak_v2
from igi_jax.codec import standard
from igi_jax.experiments.rd import Encode, RateDistortion

ENCODES = (Encode("fast", 1000, 300), Encode("long", 4000, 1000))
# Each argument's weights (None: the quad-tree); every one has committed results.
WEIGHTS = {
    "quadtree": None,
    "net": FIRST_NET,
    "net_v2": eval_kodak_v2.WEIGHTS,
    "net_v2_long": eval_kodak_v2.WEIGHTS,
}
VARIANTS = tuple(WEIGHTS)  # the arguments whose committed results the config tests check


def get_config(arg: str | None = None) -> RateDistortion:
    arg = arg or "quadtree"
    if arg not in WEIGHTS:
        raise ValueError(f"rd_kodak: unknown init {arg!r}; expected one of {sorted(WEIGHTS)}")
    encodes = {"net_v2": ENCODES[:1], "net_v2_long": ENCODES[1:]}.get(arg, ENCODES)
    return RateDistortion(
        dataset="kodak",
        bpps=(0.25, 0.5) if arg == "net_v2_long" else (0.12, 0.25, 0.5, 1.0, 1.5),
        encodes=encodes,
        codecs=("jpeg",) if arg.startswith("net_v2") else standard.CODECS,
        inits=("net" if arg.startswith("net") else arg,),
        weights=WEIGHTS[arg],  # each net init names the weights copy its curve was made with
        out="bench/results/rd_kodak" + ("" if arg == "quadtree" else f"_{arg}"),
        notes="Issue 34: Kodak rate–distortion, ours against five standard codecs.",
    )
