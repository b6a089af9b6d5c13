"""Issue 31 item 5: the net trained at k = 4 beside the k = 3 net run at k = 4, on Kodak.

    python train.py --config configs/net_small_v2.py:warm_k4 --workdir runs/v2_warm_k4
    python -m igi_jax.train.export --workdir runs/v2_warm_k4 --latest \
        --out bench/results/train_v2_warm_k4/weights.npz
    python evaluate.py --config configs/experiments/k4_kodak.py:untrained
    python evaluate.py --config configs/experiments/k4_kodak.py:trained

24 images at full size, net + solve at k = 4, step 0 (the init alone) and 200 steps. ``untrained``
is ``warm_width3`` (trained at k = 3, the k = 4 net's starting point) run at k = 4; ``trained`` is
that net continued at k = 4 (``configs/net_small_v2.py:warm_k4``). Paper, Table 3: 24.31 → 29.53 dB.
"""

from igi_jax.experiments import Experiment

WEIGHTS = {
    "untrained": "bench/results/train_v2_warm_width3/weights.npz",
    "trained": "bench/results/train_v2_warm_k4/weights.npz",
}


def get_config(arg: str | None = None) -> Experiment:
    arg = arg or "trained"
    if arg not in WEIGHTS:
        raise ValueError(f"k4_kodak: unknown candidate {arg!r}; expected one of {sorted(WEIGHTS)}")
    return Experiment(
        backend="cpu-native",
        dataset="kodak",
        inits=("net+solve",),
        kernel_sizes=(4,),
        steps=(0, 200),
        weights=WEIGHTS[arg],
        grid_images=0,
        fps_repeats=5,
        out=f"bench/results/k4_kodak/{arg}",
        notes=f"Issue 31 item 5, {arg} k = 4 net: Kodak full size, net + solve, steps 0 / 200.",
    )
