"""Pretraining of the Instant-GI network: config, sharded train step, checkpoints, the loop.

``train.py --config configs/net_<name>.py --workdir DIR`` → :func:`igi_jax.train.loop.train_and_evaluate`.
"""
