"""An earlier run: the Kodak protocol on the first 5 images, fitted without the learning-rate warm-up.

    python evaluate.py --config configs/experiments/eval_kodak_no_warmup.py

The fit config before the 10-step warm-up became the default (``configs/fit_default.py`` with
``warmup_steps = 0``); otherwise ``eval_kodak``. It shows why the warm-up was added: the first
Adan steps knock a good init back by several dB. The committed results were made by the Kodak
run before the warm-up, then moved; their 2 / 10 / 20 s budgets were re-measured when the
seconds rule changed. Runtime: ~2.7 h (5 images).
"""

import dataclasses

from configs.experiments import eval_kodak
from igi_jax.experiments import Experiment
from igi_jax.fit import FitConfig
from igi_jax.one_image import load_config


def no_warmup_fit() -> FitConfig:
    """The shipped fit config without its warm-up (the default before the warm-up existed)."""
    return dataclasses.replace(load_config(None)[0].fit, warmup_steps=0)


def get_config() -> Experiment:
    return dataclasses.replace(
        eval_kodak.get_config(),
        limit=5,
        fit=no_warmup_fit(),
        out="bench/results/eval_kodak_no_warmup",
        notes="Earlier run: Kodak protocol, first 5 images, no warm-up.",
    )
