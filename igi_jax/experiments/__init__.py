"""The paper's experiments as one resumable command (``evaluate.py --dataset DIR``).

* :mod:`~igi_jax.experiments.inits` — the compared inits and Table 3's ablations, timed warm;
* :mod:`~igi_jax.experiments.runner` — image × init × k × budget, fits, metrics, FPS;
* :mod:`~igi_jax.experiments.baseline` — the PyTorch GaussianImage rows (``--baseline torch``);
* :mod:`~igi_jax.experiments.store` — ``results.json``, resumable, written atomically;
* :mod:`~igi_jax.experiments.report` — Markdown tables (means, paired differences) and the README
  "Results" block;
* :mod:`~igi_jax.experiments.published` — the paper's numbers shown beside ours;
* :mod:`~igi_jax.experiments.plots` — PSNR-vs-time curves and the per-image grid;
* :mod:`~igi_jax.experiments.cli` — the command line.
"""
