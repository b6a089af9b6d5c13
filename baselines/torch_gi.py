"""GaussianImage's fitting recipe in pure PyTorch: the baseline igi_jax is measured against.

Written for this project from GaussianImage's paper and recipe (not a copy of its code):

* The model is the project's :class:`igi_jax.gaussians.Gaussians`, raw parameter for raw parameter,
  so one ``gaussians.npz`` loads into both: positions ``mean = (tanh(xy) + 1) · (W/2, H/2)``;
  RS ``shape = (s1, s2, r)`` with scales ``|s + 0.5|`` and ``θ = sigmoid(r) · 2π``; Cholesky
  ``L = shape + (0.5, 0, 0.5)``, ``Σ = L Lᵀ``; raw colours (opacity folded in).
* Rendering: :mod:`baselines.torch_rasterize` (the project's pixel-centre convention and cuts).
* Optimiser: :class:`Adan` from the Adan paper (decay-style betas .98/.92/.99, eps outside the
  root), or ``torch.optim.Adam``; StepLR decay (GaussianImage: ×0.5 every 20,000 steps).
* Loss: L2 (GaussianImage's default) or 0.7 L2 + 0.3 D-SSIM; optionally on the render clamped to
  [0, 1], as GaussianImage's forward does (``FitConfig.clamp``).

:func:`fit` takes the project's :class:`igi_jax.fit.FitConfig` (its ``backend`` is ignored) and
returns a history in the same format as :func:`igi_jax.fit.fit`, so the two can be compared
point for point.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from baselines import torch_rasterize
from igi_jax.fit import PARAM_GROUPS, FitConfig, block_steps
from igi_jax.optim import step_decay_schedule

_SCALE_BOUND = 0.5
_CHOL_BOUND = (0.5, 0.0, 0.5)


class TorchGaussians(torch.nn.Module):
    """A set of 2D Gaussians with the project's raw parameters as ``torch.nn.Parameter``s.

    Attributes:
      xy: ``[N, 2]`` atanh of the normalised position.
      shape: ``[N, 3]`` raw covariance parameters (RS or Cholesky, see the module docstring).
      colors: ``[N, 3]`` RGB weights.
      kind: ``"rs"`` or ``"cholesky"``.
      height, width: image size, pixels.
    """

    def __init__(
        self,
        xy: Any,
        shape: Any,
        colors: Any,
        *,
        kind: str,
        height: int,
        width: int,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if kind not in ("rs", "cholesky"):
            raise ValueError(f"unknown parameterization {kind=}; expected 'rs' or 'cholesky'")
        self.xy = torch.nn.Parameter(torch.tensor(np.array(xy), dtype=dtype))
        self.shape = torch.nn.Parameter(torch.tensor(np.array(shape), dtype=dtype))
        self.colors = torch.nn.Parameter(torch.tensor(np.array(colors), dtype=dtype))
        self.kind, self.height, self.width = kind, int(height), int(width)

    @classmethod
    def from_gaussians(cls, g: Any, dtype: torch.dtype = torch.float32) -> TorchGaussians:
        """From an :class:`igi_jax.gaussians.Gaussians` (its live entries only)."""
        from igi_jax.gaussians import compact

        g = compact(g)
        return cls(g.xy, g.shape, g.colors, kind=g.kind, height=g.height, width=g.width, dtype=dtype)

    @classmethod
    def load(cls, path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> TorchGaussians:
        """From a ``gaussians.npz`` (validated by :func:`igi_jax.gaussians_file.load_gaussians`)."""
        from igi_jax import gaussians_file

        return cls.from_gaussians(gaussians_file.load_gaussians(path), dtype=dtype)

    def means(self) -> torch.Tensor:
        """``[N, 2]`` centres, pixels."""
        half = torch.tensor([self.width / 2, self.height / 2], dtype=self.xy.dtype)
        return (torch.tanh(self.xy) + 1.0) * half

    def covariances(self) -> torch.Tensor:
        """``[N, 3]`` covariance ``(xx, xy, yy)``, pixels²."""
        if self.kind == "rs":
            s = torch.abs(self.shape[:, :2] + _SCALE_BOUND)
            theta = torch.sigmoid(self.shape[:, 2]) * (2 * math.pi)
            c, si = torch.cos(theta), torch.sin(theta)
            s1, s2 = s[:, 0] ** 2, s[:, 1] ** 2
            return torch.stack([c * c * s1 + si * si * s2, c * si * (s1 - s2), si * si * s1 + c * c * s2], -1)
        chol = self.shape + torch.tensor(_CHOL_BOUND, dtype=self.shape.dtype)
        l11, l21, l22 = chol.unbind(-1)
        return torch.stack([l11 * l11, l11 * l21, l21 * l21 + l22 * l22], -1)

    def forward(self, cell: int = 8) -> torch.Tensor:
        """The render, ``[H, W, 3]``, unclamped."""
        return torch_rasterize.render(
            self.means(), self.covariances(), self.colors, self.height, self.width, cell=cell
        )

    def groups(self) -> dict[str, torch.nn.Parameter]:
        """The trainable parameters by group name (the keys of ``igi_jax``'s params dict)."""
        return {"xy": self.xy, "shape": self.shape, "colors": self.colors}


class Adan(torch.optim.Optimizer):
    """Adan (Xie et al. 2022, Algorithm 1) without weight decay, decay-style betas as in PyTorch.

    With ``g`` the gradient and ``d = g − g_prev`` (``d = 0`` on the first step)::

      m ← b1 m + (1 − b1) g,   v ← b2 v + (1 − b2) d,   n ← b3 n + (1 − b3)(g + b2 d)²
      p ← p − lr (m / (1 − b1ᵗ) + b2 v / (1 − b2ᵗ)) / (sqrt(n / (1 − b3ᵗ)) + eps)

    (the paper's β's are ``1 − b``; its Nesterov weight ``1 − β2`` is ``b2`` = 0.92). ``eps`` sits
    outside the root: with per-pixel-mean losses the second moment is ~1e-12, and an ``eps`` inside
    it would shrink every step ~100× (the bug of issue 13).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float, float] = (0.98, 0.92, 0.99),
        eps: float = 1e-8,
    ):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("Adan.step takes no closure")
        for group in self.param_groups:
            b1, b2, b3 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["m"], st["v"], st["n"] = (torch.zeros_like(p) for _ in range(3))
                    st["prev"] = g.clone()
                st["step"] += 1
                t = st["step"]
                d = g - st["prev"]
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).add_(d, alpha=1 - b2)
                u = g + b2 * d
                st["n"].mul_(b3).addcmul_(u, u, value=1 - b3)
                direction = st["m"] / (1 - b1**t) + b2 * st["v"] / (1 - b2**t)
                direction /= torch.sqrt(st["n"] / (1 - b3**t)) + group["eps"]
                p.add_(direction, alpha=-group["lr"])
                st["prev"].copy_(g)


def psnr(image: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of the render clamped to [0, 1] (metrics only), as :func:`igi_jax.metrics.psnr`."""
    mse = torch.mean((image.detach().clamp(0.0, 1.0) - target) ** 2)
    return float(10.0 * torch.log10(1.0 / mse))


def _gaussian_taps(win: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(win, dtype=np.float64) - win // 2
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def dssim_loss(render: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean(1 − SSIM map), 11×11 Gaussian window (σ 1.5), zero padding, C1 = 1e-4, C2 = 9e-4.

    ``[H, W, 3]`` images; the project's ``losses.dssim_loss`` with its defaults.
    """
    taps = torch.as_tensor(_gaussian_taps(), dtype=render.dtype)
    r = taps.shape[0] // 2
    x, y = render.permute(2, 0, 1), target.permute(2, 0, 1)  # [3, H, W]
    stats = torch.cat([x, y, x * x, y * y, x * y])[:, None]  # [15, 1, H, W]
    stats = F.conv2d(stats, taps.view(1, 1, -1, 1), padding=(r, 0))
    stats = F.conv2d(stats, taps.view(1, 1, 1, -1), padding=(0, r))[:, 0]
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(3)
    c1, c2 = 0.01**2, 0.03**2
    cs = (2.0 * (e_xy - mu_x * mu_y) + c2) / (e_xx - mu_x * mu_x + e_yy - mu_y * mu_y + c2)
    lum = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return torch.mean(1.0 - lum * cs)


def loss_fn(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``"l2"`` (mean squared error) or ``"l2+dssim"`` (0.7 L2 + 0.3 D-SSIM)."""
    if name == "l2":
        return lambda x, y: torch.mean((x - y) ** 2)
    if name == "l2+dssim":
        return lambda x, y: 0.7 * torch.mean((x - y) ** 2) + 0.3 * dssim_loss(x, y)
    raise ValueError(f"unknown loss {name!r}; expected 'l2' or 'l2+dssim'")


def make_optimizer(model: TorchGaussians, cfg: FitConfig) -> tuple[torch.optim.Optimizer, Any]:
    """Adan or Adam over the three parameter groups (``cfg.lr_groups`` multipliers), plus the step
    decay and warm-up (a ``LambdaLR``)."""
    mult = dict(cfg.lr_groups)
    groups = [{"params": [p], "lr": cfg.lr * mult.get(name, 1.0)} for name, p in model.groups().items()]
    if cfg.optimizer == "adan":
        opt: torch.optim.Optimizer = Adan(groups, lr=cfg.lr)
    else:
        opt = torch.optim.Adam(groups, lr=cfg.lr)  # betas .9/.999, eps 1e-8 outside the root: optax.adam
    # The rate factor at scheduler count c (step c + 1): the JAX fit's own schedule, at lr 1.
    schedule = step_decay_schedule(1.0, cfg.decay_every, cfg.decay_rate, cfg.warmup_steps)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda count: float(schedule(count)))


@dataclasses.dataclass
class TorchFitResult:
    """Final model and render, the PSNR log (same keys as igi_jax's), and the fitting time."""

    model: TorchGaussians
    image: torch.Tensor  # [H, W, 3], unclamped
    history: list[dict[str, float]]
    steps: int
    fit_seconds: float
    snapshots: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # step -> [H, W, 3]


def fit(
    model: TorchGaussians,
    target: Any,
    cfg: FitConfig | None = None,
    *,
    cell: int = 8,
    init_seconds: float = 0.0,
    callback: Callable[[dict[str, float]], Any] | None = None,
    snapshots: Collection[int] = (),
) -> TorchFitResult:
    """Optimise ``model`` in place to reproduce ``target [H, W, 3]`` (float in [0, 1]).

    The log matches :func:`igi_jax.fit.fit`: entry 0 is the initial PSNR, then one entry per block
    (:func:`igi_jax.fit.block_steps`) with the PSNR of the render after it and the loss of its last step;
    ``seconds`` counts the steps and the log renders, from ``init_seconds``.

    Args:
      model: initial Gaussians (optimised in place).
      target: ``[H, W, 3]`` image.
      cfg: the project's hyper-parameters (``None``: ``FitConfig()``; ``backend`` is ignored).
      cell: the rasterizer's list granularity (16, 8 or 4 px; same image, different speed).
      init_seconds: time the init took; the time axis of ``history`` starts there.
      callback: called with every history entry.
      snapshots: steps whose (unclamped) render to keep; block ends, as in :func:`igi_jax.fit.fit`.
    """
    cfg = FitConfig() if cfg is None else cfg
    if cfg.lr_groups and set(dict(cfg.lr_groups)) - set(PARAM_GROUPS):
        raise ValueError(f"unknown lr groups in {cfg.lr_groups}")
    target = torch.as_tensor(np.asarray(target), dtype=model.xy.dtype)
    if tuple(target.shape) != (model.height, model.width, 3):
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match Gaussians sized "
            f"{(model.height, model.width, 3)}"
        )
    opt, sched = make_optimizer(model, cfg)
    loss_of = loss_fn(cfg.loss)

    def render() -> torch.Tensor:
        image = model(cell)
        return image.clamp(0.0, 1.0) if cfg.clamp else image

    kept = {}
    with torch.no_grad():
        image = model(cell)
        history = [{"step": 0, "seconds": init_seconds, "psnr": psnr(image, target), "loss": float("nan")}]
        if 0 in snapshots:
            kept[0] = image.numpy().copy()
    if callback:
        callback(history[-1])
    fit_seconds, step, value, step_seconds = 0.0, 0, float("nan"), None
    while step < cfg.steps and (cfg.seconds is None or init_seconds + fit_seconds < cfg.seconds):
        left = None if cfg.seconds is None else cfg.seconds - init_seconds - fit_seconds
        n = block_steps(step, cfg, snapshots, seconds_left=left, step_seconds=step_seconds)
        t = time.perf_counter()
        for _ in range(n):
            loss = loss_of(render(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            value = float(loss.detach())
        with torch.no_grad():
            image = model(cell)
            p = psnr(image, target)
        step_seconds = (time.perf_counter() - t) / n
        fit_seconds += step_seconds * n
        step += n
        history.append({"step": step, "seconds": init_seconds + fit_seconds, "psnr": p, "loss": value})
        if step in snapshots:
            kept[step] = image.numpy().copy()
        if callback:
            callback(history[-1])
    with torch.no_grad():
        image = model(cell)
    return TorchFitResult(
        model=model, image=image, history=history, steps=step, fit_seconds=fit_seconds, snapshots=kept
    )
