"""Evaluation: the paper's experiments as configs run by one resumable runner (``evaluate.py``).

* :mod:`~igi_jax.experiments.config` — :class:`Experiment`, the fits' config type
  (``configs/experiments/<name>.py`` return one);
* :mod:`~igi_jax.experiments.rd` — :class:`~igi_jax.experiments.rd.RateDistortion`, the codec's
  config type and runner (ours and the standard codecs at target rates, the same store);
  :mod:`~igi_jax.experiments.rd_report` — its curves, tables and plot;
  :mod:`~igi_jax.experiments.bjontegaard` — BD-rate and BD-PSNR;
* :mod:`~igi_jax.experiments.runner` — image × init × k × budget: inits (:mod:`igi_jax.init`), fits,
  metrics, FPS; :mod:`~igi_jax.experiments.budgets` — the fits to every budget;
* :mod:`~igi_jax.experiments.baseline` — the PyTorch GaussianImage rows (``baseline="torch"``);
* :mod:`~igi_jax.experiments.store` — ``results.json``, resumable, atomic, with each entry's commit;
* :mod:`~igi_jax.experiments.report` — Markdown tables (means, paired differences) and the
  generated blocks of ``docs/RESULTS.md``;
* :mod:`~igi_jax.experiments.published` — the paper's numbers shown beside ours;
* :mod:`~igi_jax.experiments.plots` — PSNR-vs-time curves and the per-image grid;
* :mod:`~igi_jax.experiments.cli` — the command line (also ``--fits``: :mod:`igi_jax.evaluate`).
"""

from igi_jax.experiments.config import Experiment

__all__ = ["Experiment"]
