"""An earlier run (issue 16): the first network against quad-tree + colour solve, Kodak, steps 0 and 200.

    python evaluate.py --config configs/experiments/net_vs_inits_kodak.py

24 images at full size, k = 3 and 4, fitted without the warm-up (the fit config of the time).
``bench/net_targets.py`` checks the network issue's Kodak targets on its results. Runtime: ~4 h.
"""

from configs.experiments import FIRST_NET
from configs.experiments.eval_kodak_no_warmup import no_warmup_fit
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return Experiment(
        backend="reference",  # the XLA path its committed results were made on (not cpu-native)
        dataset="kodak",
        inits=("net", "net+solve", "quadtree+solve"),
        kernel_sizes=(3, 4),
        steps=(0, 200),
        fit=no_warmup_fit(),
        weights=FIRST_NET,
        out="bench/results/net_vs_inits_kodak",
        notes="Earlier run: net vs quad-tree + solve, Kodak, steps 0 / 200, no warm-up.",
    )
