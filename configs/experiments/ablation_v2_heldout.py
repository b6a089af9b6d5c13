"""Issue 31's ablation: which network wins the fine-tune race on the held-out photos.

    python evaluate.py --config configs/experiments/ablation_v2_heldout.py   # shipped + quad-tree
    python -m igi_jax.train.export --workdir runs/v2_warm --out runs/v2_warm/latest.npz --latest
    python evaluate.py --config configs/experiments/ablation_v2_heldout.py:v2_warm
    (same for v2_warm_width), then ``python bench/ablation_table.py``

The 5 photos of :data:`igi_jax.data.samples.VAL_PHOTOS` at ×4 (the training validation's size,
~350×234; ×2 took 8 min per fit on the loaded 2-core CPU), k = 3, the
shipped fit, step budgets 0 / 200 / 2,000 only: these are deterministic, so runs made at
different machine loads pair exactly (seconds budgets would not). ``shipped`` (no argument) also fits
quad-tree + colour solve, the opponent of every row. The candidates (``configs/net_small_v2.py``
variants) are read from ``runs/``: train and export them first.
"""

from configs.experiments import FIRST_NET
from igi_jax.data.samples import VAL_PHOTOS
from igi_jax.experiments import Experiment

WEIGHTS = {
    "shipped": FIRST_NET,  # the network shipped at the time
    "v2_warm": "runs/v2_warm/latest.npz",
    "v2_warm_width": "runs/v2_warm_width/latest.npz",
    "v2_warm_lookahead": "runs/v2_warm_lookahead/latest.npz",
    "v2_warm_width2": "runs/v2_warm_width2/latest.npz",
    "v2_warm_width3": "runs/v2_warm_width3/latest.npz",
    "v2_warm_width4": "runs/v2_warm_width4/latest.npz",
    # The same 2,000 steps of the 12,000-step runs, with and without padded crop edges.
    "v2_long_width3_2000": "runs/v2_long_width3/step2000.npz",
    "v2_long_edge_2000": "runs/v2_long_edge/step2000.npz",
    # The 12,000-step run with padded crop edges at its milestones (``export --step N``).
    **{f"v2_long_edge48_{n}": f"runs/v2_long_edge48/step{n}.npz" for n in (2000, 3000, 4000, 6000, 8000)},
    # Distillation (objective (b)) from long_edge48's step 6,000, at its milestones.
    **{f"v2_distill_{n}": f"runs/v2_distill/step{n}.npz" for n in (400, 1000, 2000)},
}


REFERENCE_PATH = ("shipped", "v2_warm", "v2_warm_width", "v2_warm_width2", "v2_warm_width3")


def get_config(arg: str | None = None) -> Experiment:
    arg = arg or "shipped"
    if arg not in WEIGHTS:
        raise ValueError(f"ablation_v2_heldout: unknown candidate {arg!r}; expected one of {sorted(WEIGHTS)}")
    return Experiment(
        # The render path each candidate's committed results were made on (step budgets: the same
        # PSNR either way, to 1e-3 dB); warm_width4 and warm_lookahead came after the native kernel.
        backend="reference" if arg in REFERENCE_PATH else "cpu-native",
        dataset="photos",
        only=tuple(VAL_PHOTOS),
        downscale=4,
        inits=("net+solve", "quadtree+solve") if arg == "shipped" else ("net+solve",),
        kernel_sizes=(3,),
        steps=(0, 200, 2000),
        weights=WEIGHTS[arg],
        grid_images=0,
        fps_repeats=5,
        out=f"bench/results/ablation_v2_heldout/{arg}",
        notes=f"Issue 31 ablation, candidate {arg}: held-out photos ×4, steps 0/200/2000.",
    )
