"""The one config-file loader: get_config(arg) of a Python file, its return type checked."""

from __future__ import annotations

import pytest

from igi_jax import config_file
from igi_jax.errors import InputError


def test_loads_with_and_without_an_argument(tmp_path):
    path = tmp_path / "c.py"
    path.write_text("def get_config(arg=None):\n    return {'arg': arg}\n")
    assert config_file.load(path, dict) == {"arg": None}
    assert config_file.load(path, dict, arg="x") == {"arg": "x"}


@pytest.mark.parametrize(
    "text, match",
    [
        (None, "no such config file"),
        ("x = 1\n", "must define get_config()"),
        ("def get_config():\n    return 3\n", "returned int, expected dict or list"),
    ],
)
def test_errors_name_the_file(tmp_path, text, match):
    path = tmp_path / "c.py"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        config_file.load(path, (dict, list))
    assert str(path) in str(e.value)
