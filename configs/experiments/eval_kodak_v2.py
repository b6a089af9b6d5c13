"""Issue 31's paired table for the second network (``long_edge48`` at step 6,000), on Kodak.

    python evaluate.py --config configs/experiments/eval_kodak_v2.py [--stop-after 2h]

24 images at full size, k = 3: net + solve and quad-tree + solve, side by side in one run, on the
render path ``igi fit`` uses here (cpu-native); steps 0 / 200 / 2000 and wall-clock budgets
2 / 10 / 20 s (init included). The weights are the run's step-6,000 export, the best of its
milestones on the held-out photos (``bench/results/train_v2_long_edge48/README.md``), with its
fine-tune shrink (1.0) in the header; the runner fits the net's Gaussians unshrunk, as
``igi fit`` does for this file. Runtime: ~1.5 h on 2 idle cores (48 entries).
"""

from igi_jax.experiments import Experiment

WEIGHTS = "bench/results/train_v2_long_edge48/weights.npz"


def get_config() -> Experiment:
    return Experiment(
        backend="cpu-native",
        dataset="kodak",
        inits=("net+solve", "quadtree+solve"),
        kernel_sizes=(3,),
        steps=(0, 200, 2000),
        seconds=(2.0, 10.0, 20.0),
        weights=WEIGHTS,
        fps_repeats=5,
        out="bench/results/eval_kodak_v2",
        notes="Issue 31: long_edge48 @6000 (net + solve, k = 3) against quad-tree + solve, Kodak full size.",
    )
