"""The apex as boosted trees read it: per-frame features of the clip's motion, scored frame by frame.

The hand rule (deft.motion.phases.rise_and_fall) takes the frame of the whole-face motion curve that stands
highest above the least motion on both sides; under a moving head, speech and blinks that is often what they
leave behind. The trees read, per region and at four time scales, how far each frame's motion stands from the
frames before and after it (a brief expression rises and falls in its own regions; a turn's leftover drifts),
with the mouth's and eyes' ordinary signals and the head's turning beside them. They were fitted on world clips
of every set kind (benchmarks/fit_apex.py, the calibration seeds; never the benchmark's) and ship as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from deft.motion.phases import rise_and_fall, smooth_curve

MODEL_FILE = Path(__file__).resolve().parents[1] / "apex_model.json"
LAGS_S = (0.07, 0.13, 0.2, 0.3)  # how far before/after a frame its motion is compared (s): a micro-expression's rise
SIGNAL_LAG_S = 0.1  # ordinary signals and pose: change over this much either side of a frame
EDGE_S = 0.5  # distance from the clip's ends (s), capped: an apex needs frames on both sides
SIGNALS = ("mouth", "closure_right", "closure_left")
POSE = ("yaw", "pitch", "roll")


def _lag(fps: float, seconds: float) -> int:
    return max(1, round(seconds * fps))


def apex_features(residual: np.ndarray, curve: np.ndarray, fps: float, signals: dict[str, np.ndarray],
                  pose: dict[str, np.ndarray]) -> np.ndarray:
    """(T, F) features of every frame: `residual` (T, R, 2) each region's motion vs frame 0 with speech and blinks
    taken out (IOD), `curve` the motion curve (T,), ordinary `signals` and `pose` angles (degrees) per frame."""
    t = len(residual)
    idx = np.arange(t)
    cols = []
    for seconds in LAGS_S:
        k = _lag(fps, seconds)
        before = np.linalg.norm(residual - residual[np.clip(idx - k, 0, t - 1)], axis=-1)  # (T, R)
        after = np.linalg.norm(residual - residual[np.clip(idx + k, 0, t - 1)], axis=-1)
        rise = np.minimum(before, after)
        cols += [rise, np.sort(rise, axis=1)[:, -3:], rise.mean(axis=1, keepdims=True),
                 np.maximum(before, after).mean(axis=1, keepdims=True)]
    k = _lag(fps, SIGNAL_LAG_S)
    for name in SIGNALS:
        s = np.asarray(signals.get(name, np.zeros(t)), np.float64)
        cols += [(np.abs(s - np.roll(s, k)) + np.abs(s - np.roll(s, -k)))[:, None], (s - np.median(s))[:, None]]
    for name in POSE:
        p = np.asarray(pose.get(name, np.zeros(t)), np.float64)
        p = np.nan_to_num(p - np.nanmedian(p)) if np.isfinite(p).any() else np.zeros(t)
        cols += [np.abs(np.gradient(p))[:, None] * fps / 30.0, np.abs(p - np.roll(p, k))[:, None]]
    cols.append(np.minimum(np.minimum(idx, t - 1 - idx) / fps, EDGE_S)[:, None])
    cols.append(np.asarray(curve, np.float64)[:, None])
    rise = rise_and_fall(smooth_curve(curve))  # the hand rule's own score, and as a share of its best frame's
    cols += [rise[:, None], (rise / max(float(rise.max()), 1e-9))[:, None]]
    return np.nan_to_num(np.concatenate(cols, axis=1))


@dataclass
class ApexModel:
    """Boosted regression trees on apex_features: the summed leaf values are each frame's log-odds of being
    within a frame of the apex. Each tree: per node its feature, threshold (go left when <=), children, leaf value."""

    baseline: float
    trees: list[dict[str, np.ndarray]]
    n_features: int
    about: str = ""

    def score(self, features: np.ndarray) -> np.ndarray:
        """(T,) log-odds per frame of features (T, F)."""
        if features.shape[1] != self.n_features:
            raise ValueError(f"apex model expects {self.n_features} features, got {features.shape[1]}")
        out = np.full(len(features), self.baseline)
        rows = np.arange(len(features))
        for tree in self.trees:
            node = np.zeros(len(features), int)
            while True:
                inner = ~tree["leaf"][node]
                if not inner.any():
                    break
                n = node[inner]
                left = features[rows[inner], tree["feature"][n]] <= tree["threshold"][n]
                node[inner] = np.where(left, tree["left"][n], tree["right"][n])
            out += tree["value"][node]
        return out

    def to_dict(self) -> dict:
        return {"about": self.about, "baseline": self.baseline, "n_features": self.n_features,
                "trees": [{k: v.tolist() for k, v in tree.items()} for tree in self.trees]}

    @classmethod
    def from_dict(cls, d: dict) -> ApexModel:
        kinds = {"feature": np.int64, "threshold": np.float64, "left": np.int64, "right": np.int64, "leaf": bool,
                 "value": np.float64}
        trees = [{k: np.asarray(tree[k], kind) for k, kind in kinds.items()} for tree in d["trees"]]
        return cls(float(d["baseline"]), trees, int(d["n_features"]), d.get("about", ""))

    def save(self, path: str | Path = MODEL_FILE) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> ApexModel:
        return cls.from_dict(json.loads(Path(path).read_text()))


def from_sklearn(trees) -> ApexModel:
    """A fitted scikit-learn HistGradientBoostingClassifier (binary) as an ApexModel, which needs numpy only."""
    out = []
    for (predictor,) in trees._predictors:
        nodes = predictor.nodes
        out.append({"feature": nodes["feature_idx"].astype(np.int64), "threshold": nodes["num_threshold"].astype(float),
                    "left": nodes["left"].astype(np.int64), "right": nodes["right"].astype(np.int64),
                    "leaf": nodes["is_leaf"].astype(bool), "value": nodes["value"].astype(float)})
    return ApexModel(float(np.ravel(trees._baseline_prediction)[0]), out, int(trees.n_features_in_))


@lru_cache(maxsize=1)
def shipped_apex_model() -> ApexModel | None:
    """The packaged model, or None where it was not fitted (spotting then keeps the hand rule)."""
    return ApexModel.load() if MODEL_FILE.exists() else None


def apex_scorer(model: ApexModel, fps: float, signals: dict[str, np.ndarray], pose: dict[str, np.ndarray]):
    """The hook deft.motion.phases.find_phases calls with (residual, curve): the model's per-frame scores."""
    return lambda residual, curve: model.score(apex_features(residual, curve, fps, signals, pose))
