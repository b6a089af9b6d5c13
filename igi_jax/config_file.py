"""Config files: a Python file (or module) whose ``get_config(arg=None)`` returns the config.

The one loader behind ``igi fit --config`` (:func:`igi_jax.one_image.load_config`) and the
pretraining configs (:func:`igi_jax.train.config.load`); every problem is one
:class:`~igi_jax.errors.InputError` naming the file.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from igi_jax.errors import InputError


def load_module(path: str | os.PathLike) -> ModuleType:
    """Execute the Python file ``path`` as a fresh module (not added to ``sys.modules``).

    Raises:
      InputError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such config file")
    spec = importlib.util.spec_from_file_location(f"_igi_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_get_config(
    module: ModuleType, label: str, expected: type | tuple[type, ...] = object, arg: str | None = None
) -> Any:
    """``module.get_config(arg)`` (``get_config()`` when ``arg`` is ``None``), checked.

    Args:
      module: the config module.
      label: how errors name it (its path or module name).
      expected: the type(s) the config must have.
      arg: the optional argument of ``get_config``.

    Raises:
      InputError: no callable ``get_config``, or it returned something else than ``expected``.
    """
    get = getattr(module, "get_config", None)
    if not callable(get):
        raise InputError(f"{label}: a config must define get_config()")
    cfg = get(arg) if arg is not None else get()
    if not isinstance(cfg, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise InputError(f"{label}: get_config() returned {type(cfg).__name__}, expected {names}")
    return cfg


def split_arg(path: str | os.PathLike) -> tuple[str, str | None]:
    """``"FILE:ARG"`` → ``("FILE", "ARG")`` (the ``big_vision`` form); a plain file → ``(path, None)``."""
    path = str(path)
    if ":" in path and not os.path.isfile(path):
        file, arg = path.rsplit(":", 1)
        return file, arg
    return path, None


def load(path: str | os.PathLike, expected: type | tuple[type, ...] = object, arg: str | None = None) -> Any:
    """:func:`call_get_config` of the file ``path`` (see :func:`load_module`); ``path`` may be
    ``FILE:ARG`` when ``arg`` is not given (:func:`split_arg`)."""
    if arg is None:
        path, arg = split_arg(path)
    return call_get_config(load_module(path), str(path), expected, arg)
