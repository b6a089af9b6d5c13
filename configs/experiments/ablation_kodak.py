"""The paper's Table 3 ablations that the landed pieces allow, at the init (step 0), on Kodak.

    python evaluate.py --config configs/experiments/ablation_kodak.py

24 images at full size, k = 3 and 4 (k = 4 runs the net trained at 3 without retraining):
``net`` (PPM → dithering → Delaunay → fields), ``grad-dither`` (dither the image-gradient map
instead of the predicted PPM, fields kept), ``ellipse`` (the net's PPM and triangles, no fields),
each with and without ``+solve`` (ours: the least-squares colour solve). Expected: without the
fields (``ellipse``) the init loses the most; the PPM beats the gradient map before the solve.
Step 0 only, so the fit config does not matter; it names the one of the time (no warm-up).
Runtime: ~1 h.
"""

from configs.experiments import FIRST_NET
from configs.experiments.eval_kodak_no_warmup import no_warmup_fit
from igi_jax.experiments import Experiment


def get_config() -> Experiment:
    return Experiment(
        backend="reference",  # the XLA path its committed results were made on (not cpu-native)
        dataset="kodak",
        inits=("net", "net+solve", "grad-dither", "grad-dither+solve", "ellipse", "ellipse+solve"),
        kernel_sizes=(3, 4),
        steps=(0,),
        fit=no_warmup_fit(),
        fps_repeats=5,
        grid_images=0,
        weights=FIRST_NET,
        out="bench/results/ablation_kodak",
        notes="Table 3 ablations at step 0, Kodak full size.",
    )
