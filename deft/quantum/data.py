"""A binary task on deft's motion features: positive vs negative micro-expressions of synthetic clips.

Each clip (deft.data.synthetic, half happiness, half a negative emotion) goes through deft's own pipeline
(analyze_frames) and its motion expert input (deft.model.features: 18 regions x 6 descriptors + 12 AU
confidences and pulls, 132 numbers). Standardising and a PCA fitted on the training clips bring them to
2**n_qubits numbers, what both encodings take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deft.labels import COMPOSITE

NEGATIVE = tuple(sorted(e for e, c in COMPOSITE.items() if c == "negative"))
CLASSES = ("negative", "positive")  # label 0, 1


@dataclass
class MotionSet:
    features: np.ndarray  # (n, 132) float32 motion expert inputs
    labels: np.ndarray  # (n,) int 0 negative, 1 positive


def motion_set(n_clips: int, seed: int) -> MotionSet:
    """n_clips synthetic clips, alternately positive and negative, analysed by deft (about 1-2 s a clip)."""
    from deft.analyze import analyze_frames
    from deft.data.faces import FACE_NAMES
    from deft.data.synthetic import random_spec, render
    from deft.model.features import clip_features
    from deft.video import Video

    rng = np.random.default_rng(seed)
    features, labels = [], []
    for i in range(n_clips):
        emotion = "happiness" if i % 2 else str(rng.choice(NEGATIVE))
        spec = random_spec(rng, emotion, FACE_NAMES[(i // 2) % len(FACE_NAMES)], seed=seed * 10007 + i)
        clip = render(spec)
        video = Video(clip.frames, 30.0, f"synthetic-{spec.seed}", "synthetic", clip.frames.shape[2:0:-1],
                      list(range(len(clip.frames))))
        features.append(clip_features(analyze_frames(video), with_identity=False).motion_vector)
        labels.append(i % 2)
    return MotionSet(np.stack(features).astype(np.float32), np.array(labels))


@dataclass
class Reducer:
    """Standardise, then project on the training set's first principal components."""

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # (k, d), each divided by its spread on the training set

    @classmethod
    def fit(cls, x: np.ndarray, k: int) -> "Reducer":
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        _, sv, vt = np.linalg.svd((x - mean) / scale, full_matrices=False)
        spread = sv[:k, None] / np.sqrt(len(x)) + 1e-6
        return cls(mean, scale, vt[:k] / spread)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, k), each component divided by the training set's spread (about unit variance)."""
        z = ((x - self.mean) / self.scale) @ self.components.T
        return z.astype(np.float32)
