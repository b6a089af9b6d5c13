"""Network configuration: the widths and depths of the ConvNeXt-UNet and the field MLPs.

Three presets:

* :meth:`NetConfig.paper` — the official network: ConvNeXt-Base encoder (dims 128/256/512/1024,
  depths 3/3/27/3), input conv 64 wide, UNet decoder back to 64 channels (~98M parameters, see
  ``tests/net/test_param_count.py``).
* :meth:`NetConfig.small` — the CPU-trainable network whose weights the package ships
  (dims 24/48/96/192, depths 1/1/3/1, input conv 12; 1,267,078 parameters). Picked from
  ``python bench/net_init.py step`` (batch 4 × 128 × 128, k = 3, ~1,470 triangles per crop, 2 shared
  cores at load 11–13, min of 3, so every figure is an upper bound)::

      config                       params     net fwd   net fwd+bwd   loss fwd+bwd   step*
      dims 16..128, depths 1/1/2/1    627,086   0.58 s    3.91 s        2.55 s         3.17 s
      dims 24..192, depths 1/1/3/1  1,267,078   0.79 s    2.26 s        2.45 s         3.28 s
      dims 32..256, depths 2/2/6/2  3,108,510   0.56 s    4.39 s        4.77 s         5.36 s

  (*) step = PPM forward + host stage (36 ms for the 4 crops with 2 threads, 84 ms with 1) +
  loss forward+backward. The narrow net is no faster within the noise of the shared machine,
  the 3.1M one is ~1.6× slower. Even at the loaded 3.3 s per step, 3 hours are ~3,300 steps of
  4 crops; the idle machine was not available to measure.
* :meth:`NetConfig.tiny` — for tests (a few tens of thousands of parameters, milliseconds per
  call on small images).

The field MLPs follow the official sizes in every preset (feature map 64 channels, feature
reduction 256 → 256 → 128 → 64, BC/Σ/opacity fields as wide as their 86/94-dim inputs), so the
feature organisation is the same at every scale; only the feature extractor shrinks.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """Architecture of :class:`igi_jax.net.InstantGINet`.

    Attributes:
      dims: encoder stage widths (ConvNeXt), one per stage; the total stride is ``2**len(dims)``.
      depths: ConvNeXt blocks per stage.
      in_width: width of the full-resolution input conv (skip 0); ``None`` = ``dims[0] // 2``.
      feature_dim: channels of the output feature map F (64 in the paper).
      position_hidden: hidden widths of the per-pixel position field (64, 64 in the paper).
      reduction_hidden: hidden widths of the MLP that reduces the 4 sampled feature vectors
        (4·feature_dim) to feature_dim (official: 256, 128).
      field_hidden: hidden width of the BC / Σ / opacity fields; ``None`` = their input width
        (86 / 94), as in the paper.
      field_layers: hidden layers of each field MLP (2 in the paper).
      layer_scale_init: ConvNeXt layer-scale init (1e-6).
      init_std: std of the normal init of every conv and linear weight (0.02).
      pad_modulus, pad_residue: the UNet pads an image at the bottom/right to the next size
        ``≡ pad_residue (mod pad_modulus)``; ``pad_modulus = 0``: to the next multiple of
        :attr:`stride`. A net sees at its bottom/right edges only what training showed it: one
        trained on whole crops wants the stride rule, one trained on crops whose image ends up to
        ``m − 1`` px early (``DataConfig.edge_jitter``, ``m = lcm(stride, k)``) wants
        ``(m, crop mod m)``, so that the padding and the last dithering cell's remainder
        ``H mod k`` pair as in training (:func:`igi_jax.train.step.net_config`).
    """

    dims: tuple[int, ...] = (128, 256, 512, 1024)
    depths: tuple[int, ...] = (3, 3, 27, 3)
    in_width: int | None = None
    feature_dim: int = 64
    position_hidden: tuple[int, ...] = (64, 64)
    reduction_hidden: tuple[int, ...] = (256, 128)
    field_hidden: int | None = None
    field_layers: int = 2
    layer_scale_init: float = 1e-6
    init_std: float = 0.02
    pad_modulus: int = 0
    pad_residue: int = 0

    def __post_init__(self) -> None:
        m, r, s = self.pad_modulus, self.pad_residue, 2 ** len(self.dims)
        if m and (m % s or r % s or not 0 <= r < m) or (not m and r):
            raise ValueError(
                f"pad_modulus must be 0 or a multiple of the stride {s}, and pad_residue a multiple "
                f"of it below the modulus; got {m=} {r=}"
            )
        if len(self.dims) != len(self.depths) or not self.dims:
            raise ValueError(
                f"dims and depths must be non-empty and equally long, got {self.dims=} {self.depths=}"
            )
        if any(d < 1 for d in self.dims) or any(d < 0 for d in self.depths):
            raise ValueError(f"bad widths/depths: {self.dims=} {self.depths=}")
        if self.in_width is not None and self.in_width < 1:
            raise ValueError(f"{self.in_width=} must be positive")
        if self.feature_dim < 1 or self.field_layers < 0:
            raise ValueError(f"bad {self.feature_dim=} or {self.field_layers=}")
        # Lists from JSON become tuples, so configs compare and hash equal.
        for name in ("dims", "depths", "position_hidden", "reduction_hidden"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))

    @property
    def stem_width(self) -> int:
        """Width of the full-resolution input conv (skip 0)."""
        return self.in_width if self.in_width is not None else max(1, self.dims[0] // 2)

    @property
    def stride(self) -> int:
        """Total downsampling of the encoder; images are padded to a multiple of it."""
        return 2 ** len(self.dims)

    def padded(self, n: int) -> int:
        """The size an image side of ``n`` px is padded to (``pad_modulus``, ``pad_residue``)."""
        if not self.pad_modulus:
            return -(-n // self.stride) * self.stride
        return n + (self.pad_residue - n) % self.pad_modulus

    @property
    def bc_in(self) -> int:
        """Input width of the BC field: ellipse 4 + triangle 6 + colours 12 + reduced features."""
        return 22 + self.feature_dim

    @property
    def field_in(self) -> int:
        """Input width of the Σ and opacity fields: :attr:`bc_in` + 8 neighbour coordinates."""
        return self.bc_in + 8

    @classmethod
    def paper(cls) -> NetConfig:
        """The official ConvNeXt-Base UNet."""
        return cls()

    @classmethod
    def small(cls) -> NetConfig:
        """The network trained on this 2-core CPU (see the README/bench for the measurement)."""
        return cls(dims=(24, 48, 96, 192), depths=(1, 1, 3, 1))

    @classmethod
    def tiny(cls) -> NetConfig:
        """A toy network for tests."""
        return cls(
            dims=(8, 16, 24, 32),
            depths=(1, 1, 1, 1),
            position_hidden=(16,),
            reduction_hidden=(64,),
            field_hidden=32,
            field_layers=1,
        )

    @classmethod
    def preset(cls, name: str) -> NetConfig:
        presets = {"paper": cls.paper, "small": cls.small, "tiny": cls.tiny}
        if name not in presets:
            raise ValueError(f"unknown net preset {name!r}; expected one of {tuple(presets)}")
        return presets[name]()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown NetConfig fields {sorted(unknown)}")
        return cls(**d)
