"""Pretraining data: pseudo-PPM labels from per-image fits, their cache, the grain input pipeline.

Data path: training image → ×2/×3/×4 bicubic downscales (:mod:`igi_jax.data.samples`) → fit from
the quad-tree init (:mod:`igi_jax.data.prepare`) → K-nearest-centre density
(:mod:`igi_jax.data.pseudo_ppm`) → cache on disk → random crops, flips, batches
(:mod:`igi_jax.data.pipeline`).
"""
