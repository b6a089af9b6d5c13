"""Baselines to measure igi_jax against.

* :mod:`baselines.torch_gi`: GaussianImage's fitting recipe in pure PyTorch (parameterisations,
  Adan, step decay, L2 / L2 + D-SSIM), rendering with :mod:`baselines.torch_rasterize`.

Needs the optional ``torch`` extra: ``pip install -e ".[torch]"`` (pinned CPU build).
"""
