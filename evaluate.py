"""Evaluate: a paper experiment (``--config configs/experiments/NAME.py``), an ad-hoc one
(``--dataset DIR ...``) or saved fits (``--fits DIR``); see :mod:`igi_jax.experiments.cli`.

Exit code 1 if a saved fit failed to measure, 2 for bad arguments, 3 when ``--stop-after``
left entries to do.
"""

import sys

from igi_jax.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
