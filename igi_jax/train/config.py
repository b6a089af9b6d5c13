"""Pretraining config: plain frozen dataclasses, built by ``configs/net_*.py: get_config()``.

Relative paths in a config (``data.dataset_root``, ``data.cache_dir``, ``init_weights``) are
relative to the repository root, whatever the current folder (:mod:`igi_jax.data.config`; the
trainer, the label builder and the exporter read :meth:`TrainConfig.resolved`). ``dataset_root``
can also be set with ``--dataset-root`` or the ``IGI_DATASETS`` environment variable, which are
relative to the current folder like any command-line path.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from igi_jax import config_file
from igi_jax.data.config import DataConfig, resolve_path

__all__ = ["DataConfig", "TrainConfig", "load", "with_data"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a pretraining run needs.

    Attributes:
      net: :class:`igi_jax.net.NetConfig` preset name (``tiny``, ``small``, ``paper``).
      data: :class:`DataConfig`.
      kernel_size: dithering cell k during training (the paper trains at 3).
      steps: optimiser steps.
      lr, lr_end: cosine decay from ``lr`` to ``lr_end`` over ``steps`` (paper: 1e-3 → 1e-5).
      warmup: linear warm-up steps.
      clip_norm: global gradient-norm clip.
      seed: model init and data order.
      log_every, val_every, ckpt_every: in steps.
      val_limit: validate on at most this many images (``None``: all).
      lookahead_steps: fine-tune-aware objective: also take the reconstruction loss after this
        many steps of ``igi fit``'s default fit (0: off; :mod:`igi_jax.net.lookahead`).
      lookahead_weight: share of the fitted reconstruction in the loss (the rest: step 0); with
        ``lookahead_mode="distill"``, the weight of the distillation term.
      lookahead_mode: ``"loss"`` (the reconstruction at the fitted set, first order) or
        ``"distill"`` (the fitted set as a per-Gaussian target).
      width_prior: weight of ``mean(scale / semi-axis)`` in the loss (0: off).
      init_weights: start from these trained weights (an ``igi-net`` ``.npz`` of the same
        ``net`` preset, e.g. the shipped ``small.npz``) instead of a fresh ``seed`` init; the
        optimizer state starts fresh either way. Relative: to the repository root.
    """

    net: str = "small"
    data: DataConfig = DataConfig()
    kernel_size: int = 3
    steps: int = 2000
    lr: float = 1e-3
    lr_end: float = 1e-5
    warmup: int = 50
    clip_norm: float = 1.0
    seed: int = 0
    log_every: int = 10
    val_every: int = 200
    ckpt_every: int = 100
    val_limit: int | None = None
    lookahead_steps: int = 0
    lookahead_weight: float = 0.5
    lookahead_mode: str = "loss"
    width_prior: float = 0.0
    init_weights: str | None = None

    def __post_init__(self):
        for name in ("steps", "log_every", "val_every", "ckpt_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        for name in ("lr", "lr_end", "clip_norm"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v}")
        top = 1.0 if self.lookahead_mode == "loss" else math.inf  # a share, or a term's weight
        w = self.lookahead_weight
        if self.lookahead_steps < 0 or not (math.isfinite(w) and 0 < w <= top):
            raise ValueError(
                f"lookahead_steps must be ≥ 0 and lookahead_weight in (0, {top:g}], got "
                f"{self.lookahead_steps=} {self.lookahead_weight=}"
            )
        if self.lookahead_mode not in ("loss", "distill"):
            raise ValueError(f"lookahead_mode must be 'loss' or 'distill', got {self.lookahead_mode!r}")
        if not (math.isfinite(self.width_prior) and self.width_prior >= 0):
            raise ValueError(f"width_prior must be a finite number ≥ 0, got {self.width_prior}")
        if self.kernel_size not in (3, 4, 5):
            raise ValueError(f"kernel_size must be 3, 4 or 5, got {self.kernel_size}")

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def resolved(self) -> TrainConfig:
        """This config with every path absolute (relative ones: to the repository root)."""
        weights = None if self.init_weights is None else resolve_path(self.init_weights)
        return self.replace(data=self.data.resolved(), init_weights=weights)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict` (JSON lists become tuples again)."""
        return cls(**{**d, "data": DataConfig.from_dict(d["data"])})


def with_data(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """``cfg`` with some :class:`DataConfig` fields replaced."""
    return cfg.replace(data=dataclasses.replace(cfg.data, **changes))


def load(path: str | os.PathLike, arg: str | None = None) -> TrainConfig:
    """``get_config(arg)`` of a config file; ``path`` may be ``FILE:ARG`` (the ``big_vision`` form).

    ``IGI_DATASETS``, when set, replaces ``data.dataset_root`` (made absolute against the current
    folder). The config's own relative paths stay as written (portable ``config.json`` files);
    :meth:`TrainConfig.resolved` makes them absolute against the repository root.

    Raises:
      InputError: missing file, no ``get_config``, or it does not return a :class:`TrainConfig`.
    """
    cfg = config_file.load(path, TrainConfig, arg)
    env = os.environ.get("IGI_DATASETS")
    return with_data(cfg, dataset_root=os.path.abspath(env)) if env else cfg
