"""Default fine-tuning config: GaussianImage's recipe (the paper's Adan, L2) with lr 1e-3 × 3 and a
10-step linear warm-up.

Re-tuned after issue 13 (``igi_jax/optim.py``: optax.adan's ``eps_root=1e-8`` had made every
step ~100× too small; the earlier "lr × 3 helps" was measured with that bug and is void). Measured
on photos (never Kodak), 384 px wide, the quad-tree init with 8 CG colour iterations at scale
0.75 (the default then; ``s 0.54`` rows: the new default, see ``igi_jax/init/choices.py``), Adan
with every group's lr = 1e-3 × the multiplier; PSNR (dB) after N steps
(2026-12-01, 2-core CPU shared with other jobs, load 10–15)::

    python bench/init_tuning.py --sweep fit --width 384 --photos 002,013 --steps 2000 \
        --settings lr1,lr3,lr2,lr0.5          # (lr0.5 was run on 002 only)
    python bench/init_tuning.py --sweep fit --width 384 --photos 013,002 --steps 2000 --settings lr3_d1000
    python bench/init_tuning.py --sweep fit --width 384 --photos 002,013 --steps 1000 --settings lr3_d500
    python bench/init_tuning.py --sweep fit --width 384 --photos 002,013 --steps 2000 --settings lr3_s0.54

    002 (384×246, 17,371 G)     0      100    200    500    1000   2000
    lr × 0.5                   23.27  27.34  29.12  33.37  38.33  42.09
    lr × 1 (GaussianImage)     23.27  28.90  31.61  36.93  40.97  43.21
    lr × 2                     23.27  30.93  34.09  39.17  41.88  43.58
    lr × 3                     23.27  31.89  35.00  39.68  41.93  43.40
    lr × 3, halve at 1000      23.27  31.89  35.00  39.68  41.93  43.56
    lr × 3, halve every 500    23.27  31.89  35.00  39.68  41.86    –
    lr × 3, s 0.54 (default)   20.26  31.64  35.96  40.14  42.34  43.64

    013 (384×182, 12,997 G)     0      100    200    500    1000   2000
    lr × 1 (GaussianImage)     20.79  25.85  28.50  33.44  37.51  39.99
    lr × 2                     20.79  27.99  30.98  35.72  38.64  40.46
    lr × 3                     20.79  29.07  32.01  36.39  38.88  40.43
    lr × 3, halve at 1000      20.79  29.07  32.01  36.39  38.88  40.44
    lr × 3, halve every 500    20.79  29.07  32.01  36.39  38.64    –
    lr × 3, s 0.54 (default)   18.00  28.78  32.79  37.05  39.27  40.60

Per-group multipliers: ×1 is not the best for the step counts ``igi fit`` runs. × 3 beats × 1 by
3.4 / 3.5 dB after 200 steps, 2.8 / 3.0 after 500, 1.0 / 1.4 after 1,000 and 0.2 / 0.4 after 2,000
(002 / 013); × 2 lies in between and ends 0.18 / 0.03 dB above × 3 at 2,000; × 0.5 is worse
everywhere. So every group gets 3 × 1e-3 (× 5 and beyond were not tried).

Step decay: halving at step 1,000 of a 2,000-step fit changed the final PSNR by +0.16 / +0.01 dB,
and halving every 500 steps of a 1,000-step fit by −0.07 / −0.24 dB. Not worth a schedule tied to one
step count (a fixed 1,000-step halving would starve longer ``--steps`` fits), so the default
keeps GaussianImage's halving every 20,000 steps, i.e. no decay within the default 2,000 steps.

Step count: 2,000 (unchanged). The second thousand steps still add 1.3–1.5 dB on both photos
(42.34 → 43.64 and 39.27 → 40.60 with the default init); ``--steps 1000`` halves the time for
that loss.

Warm-up (session 7): the bias-corrected Adan moves every parameter by about the full rate on its
first steps, whatever its gradient; at lr 3e-3 that shifts every Gaussian ~1 px on a 768 px image
and knocks a good init back by 4-10 dB at step 1 (Kodak, net + solve: 31.8 → 22.1 dB on kodim02),
recovered only after ~10 steps. A linear warm-up of the rates over the first 10 steps removes the
dip. Measured on training photos 002/013/027 at 768 px (``bench/results/fit_warmup.md``), mean PSNR
at steps 1 / 10 / 50 / 200 without → with a 10-step warm-up: net + solve 20.12 → 29.35, 28.77 →
30.20, 30.84 → 31.44, 32.50 → 32.92 dB; quad-tree + solve 14.74 → 19.74, 21.00 → 21.51, 25.48 →
26.06, 33.40 → 34.10 dB. A 30-step warm-up is worse at 200 steps (32.84 / 33.66). At 2,000 steps,
384 px, photos 002/013 (``bench/results/fit_warmup_2000.md``, where a step moves a Gaussian half
as far, so the dip is smaller) the warm-up changes the final PSNR by −0.07 / +0.05 (net + solve)
and +0.05 / −0.02 dB (quad-tree + solve): neutral, after +0.04 to +0.36 dB at step 200.
The warm-up is for good inits: a random init gains from the big first steps. On Kodak's kodim01
(held out, seen after the choice; ``bench/results/eval_kodak`` vs ``eval_kodak_no_warmup``) the
warm-up gave +0.49 / +0.67 / +0.55 dB at step 200 for net / net + solve / quad-tree + solve, and
−0.70 dB for random (k = 3 count); at 2,000 steps all four within 0.11 dB. Not made init-dependent:
one fit config serves every init, and the defaults serve the quad-tree init.

Expected: ``fit(initialize("quadtree", img).gaussians, img, get_config())`` on photo 002
resized to 384 px wide (LANCZOS) reaches ≈ 36.25 dB after 200 steps and ≈ 43.7 dB after 2,000.
"""

from __future__ import annotations

from igi_jax.fit import FitConfig

LR_GROUPS = (("xy", 3.0), ("shape", 3.0), ("colors", 3.0))
WARMUP_STEPS = 10


def get_config() -> FitConfig:
    """The default :class:`FitConfig`, for every image size (the lr sweep was not repeated at others)."""
    return FitConfig(
        steps=2000,
        optimizer="adan",
        lr=1e-3,
        lr_groups=LR_GROUPS,
        loss="l2",
        decay_every=20000,
        decay_rate=0.5,
        warmup_steps=WARMUP_STEPS,
        log_every=100,
    )
