"""``python -m igi_jax.experiments --dataset DIR ...``: the same as ``evaluate.py --dataset``."""

import sys

from igi_jax.experiments.cli import main

sys.exit(main())
