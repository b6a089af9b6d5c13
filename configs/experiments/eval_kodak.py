"""The paper's Kodak experiment (issue 17's protocol) with the default fit (10-step warm-up).

    python evaluate.py --config configs/experiments/eval_kodak.py [--stop-after 2h]

24 images at full size; net and net + solve at k = 3 and 4, quad-tree + solve, random with the
net's count at each k; steps 0 / 200 / 2000 and wall-clock budgets 2 / 10 / 20 s (init included).
Runtime: 12.7 h on 2 idle cores (168 entries, ~32 min per image). Expected: net + solve (k = 3)
ahead of quad-tree + solve at step 0 (by 8.1 dB) and 2 s, level at 10 s, behind from 20 s on
(``bench/results/eval_kodak``, ``docs/RESULTS.md``).
"""

from configs.experiments import FIRST_NET
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return Experiment(
        backend="reference",  # the XLA path its committed results were made on (not cpu-native)
        dataset="kodak",
        inits=("net", "net+solve", "quadtree+solve", "random"),
        kernel_sizes=(3, 4),
        steps=(0, 200, 2000),
        seconds=(2.0, 10.0, 20.0),
        weights=FIRST_NET,
        out="bench/results/eval_kodak",
        notes="Kodak, full size (24 images), the paper's protocol, default fit; 12.7 h on 2 idle cores.",
    )
