"""``igi --help`` without JAX (issue 33): the parser's choices come from :mod:`igi_jax.cli_names`,
which must agree with the modules they stand for."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["render", "--help"]])
def test_help_does_not_import_jax(argv):
    code = (
        "import sys\nfrom igi_jax import cli\n"
        f"rc = cli.main({argv!r})\n"
        "assert rc == 0, rc\n"
        "print('jax' in sys.modules, 'igi_jax.one_image' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False False", r.stdout


def test_cli_names_match_the_real_ones():
    from igi_jax import cli_names, one_image
    from igi_jax.gaussians import KINDS
    from igi_jax.init import INITS
    from igi_jax.render.api import BACKENDS

    assert cli_names.INITS == INITS and cli_names.KINDS == KINDS and cli_names.BACKENDS == BACKENDS
    assert cli_names.DEFAULT_INIT == one_image.DEFAULT_INIT
    assert cli_names.DEFAULT_STEPS == one_image.DEFAULT_STEPS
    assert cli_names.UNLIMITED_STEPS == one_image.UNLIMITED_STEPS
