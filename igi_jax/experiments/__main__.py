"""``python -m igi_jax.experiments ...``: the same as ``evaluate.py ...``."""

import sys

from igi_jax.experiments.cli import main

sys.exit(main())
