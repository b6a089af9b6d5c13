"""Issue 31 at matched counts: the net + solve with exactly as many Gaussians as quad-tree + solve.

    python evaluate.py --config configs/experiments/matched_count_heldout.py:v2_warm_width3
    python bench/ablation_table.py

The quad-tree gives the held-out photos ×4 ~31 % more Gaussians than the net (10,701 against
8,140 for ``v2_warm_width3``), and more Gaussians fit better from 200 steps on. Here the net's PPM
is scaled to the quad-tree's count on every image (:mod:`igi_jax.net.count`, ``count_from``), so
the race compares the inits, not the counts. Same photos, budgets and fit as
``ablation_v2_heldout``; quad-tree + solve is fitted again in every run (deterministic: the same
numbers) because each run's net entries take their counts from it.
"""

from igi_jax.data.samples import VAL_PHOTOS
from igi_jax.experiments import Experiment
from igi_jax.experiments.config import SHIPPED

WEIGHTS = {
    "shipped": SHIPPED,
    "v2_warm_width3": "bench/results/train_v2_warm_width3/weights.npz",
}


def get_config(arg: str | None = None) -> Experiment:
    arg = arg or "v2_warm_width3"
    if arg not in WEIGHTS:
        raise ValueError(
            f"matched_count_heldout: unknown candidate {arg!r}; expected one of {sorted(WEIGHTS)}"
        )
    return Experiment(
        backend="cpu-native",
        dataset="photos",
        only=tuple(VAL_PHOTOS),
        downscale=4,
        inits=("quadtree+solve", "net+solve"),
        count_from="quadtree+solve",
        kernel_sizes=(3,),
        steps=(0, 200, 2000),
        weights=WEIGHTS[arg],
        grid_images=0,
        fps_repeats=5,
        out=f"bench/results/matched_count_heldout/{arg}",
        notes=f"Issue 31, candidate {arg} at the quad-tree's count: held-out photos ×4, steps 0/200/2000.",
    )
