"""World clips for training and held-apart evaluation: every named set mixed, identities split apart.

Training clips show TRAIN_IDENTITIES only; held-apart clips show HELD_IDENTITIES, none of which a
training clip shows. Both are pseudo-identities of the same two people: every one derives from the two
real face photos the packages ship (astronaut, hopper), mirrored, reshaped, re-toned or re-lit, so the
held split is "8 pseudo-identities of 2 people", not 8 unseen people. Clip j comes from set j mod 7
(clean, pose, speech, blinks, lowres, compression, all), drawn with the set's camera and distractors but
this split's own seeds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deft.data.world.clips import SET_NAMES, WorldClipSpec, world_set
from deft.data.world.identity import IDENTITIES
from deft.errors import ConfigError

TRAIN_IDENTITIES = IDENTITIES[:8]
HELD_IDENTITIES = (  # modifier combinations no training identity has
    *IDENTITIES[8:], "astronaut-long-sidelit", "hopper-broad-warm", "astronaut-mirror-dark",
    "hopper-long-warm", "astronaut-mirror-broad-sidelit", "hopper-dark-sidelit",
)
SPLITS = {"train": TRAIN_IDENTITIES, "held": HELD_IDENTITIES}
# A split's seed S draws set k with world_set's seed S * 10 + k: bench_realism uses 1900 + k,
# calibrate_aus 2900 + k, bench_faithful 7_000_000 + j (spec seeds); the defaults stay clear of them.
DEFAULT_SEEDS = {"train": 400, "held": 410}


def world_specs(n_clips: int, split: str = "train", seed: int | None = None) -> list[WorldClipSpec]:
    """`n_clips` specs over every named set, identities of `split` balanced and shuffled (not tied to emotions)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown world split {split!r}; choose one of {', '.join(SPLITS)}")
    seed = DEFAULT_SEEDS[split] if seed is None else seed
    per_set = -(-n_clips // len(SET_NAMES))
    sets = [world_set(name, per_set, seed=seed * 10 + k) for k, name in enumerate(SET_NAMES)]
    identities = SPLITS[split]
    order = np.random.default_rng(seed).permutation(np.resize(np.arange(len(identities)), n_clips))
    return [dataclasses.replace(sets[j % len(SET_NAMES)][j // len(SET_NAMES)], identity=identities[order[j]])
            for j in range(n_clips)]
