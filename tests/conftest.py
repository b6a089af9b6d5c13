"""Checks shared by the test folders."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

EPS32 = float(np.finfo(np.float32).eps)


def _assert_same_adam_run(
    params: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    init: Sequence[np.ndarray],
    moments: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] = ((), ()),
) -> None:
    """Two runs of the same Adam steps, one data-parallel, agree up to float reduction order.

    Gradients summed in another order differ by ~eps32 · √n · (cancellation); measured here,
    up to 5e-5 of a leaf's largest element. Adam's moments are linear (μ) and quadratic (ν) in the
    gradients, so they are compared per leaf at 1e-3 of the leaf's largest element. The parameters
    are not: Adam divides each element's step by its own gradient magnitude, and where that is
    near ε (1e-8: zero-init biases, the weights of barely-used channels) the step is as uncertain
    as the gradient itself, up to a few tenths of a percent of the leaf's movement after 3 steps
    (measured 0.28 %). They are compared to 1e-2 of each leaf's movement from ``init``, plus 8 ulp
    of its values. A real data-parallel fault (a device's rows dropped, a mean taken twice, a
    stale replica) moves a leaf by O(1) of its movement and fails both checks; the global
    gradient norm and the loss, compared tightly by the callers, catch a gradient scaled by a
    constant, to which Adam is blind.

    Args:
      params: ``(one, two)``: the parameter leaves of the two runs, in the same order.
      init: the parameter leaves before the first step.
      moments: ``(one, two)``: the optimizer state's float leaves, optional.
    """
    m1, m2 = moments
    assert len(m1) == len(m2)
    for i, (a, b) in enumerate(zip(m1, m2, strict=True)):
        err = float(np.max(np.abs(a - b)))
        assert err <= 1e-3 * float(np.max(np.abs(a))), f"optimizer leaf {i} {a.shape}: differs by {err:.3g}"
    one, two = params
    assert len(one) == len(two) == len(init) > 0
    for i, (a, b, a0) in enumerate(zip(one, two, init, strict=True)):
        moved = float(np.max(np.abs(a - a0)))
        tol = 1e-2 * moved + 8 * EPS32 * float(np.max(np.abs(a)))
        err = float(np.max(np.abs(a - b)))
        assert err <= tol, f"parameter leaf {i} {a.shape}: differs by {err:.3g}, moved {moved:.3g}"


@pytest.fixture
def assert_same_adam_run() -> Callable[..., None]:
    """:func:`_assert_same_adam_run`: data-parallel Adam steps equal single-device ones."""
    return _assert_same_adam_run
