"""The paper's experiments, one config each: ``python evaluate.py --config configs/experiments/<name>.py``.

Each ``get_config()`` returns an :class:`igi_jax.experiments.Experiment` (the codec's
``rd_kodak.py``: a :class:`igi_jax.experiments.rd.RateDistortion`); variants import a base and
override a few fields. Every run is resumable and writes ``results.json``, ``report.md`` and
the plots into the config's ``out`` folder; ``docs/RESULTS.md`` shows the generated tables.
"""

# The first shipped network (``small.npz`` until issue 31's second network replaced it): the
# experiments made with it name this copy, so that they still resume and reproduce.
FIRST_NET = "bench/results/train_small/weights.npz"
