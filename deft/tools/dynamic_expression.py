"""Clip-level expression as multi-instance learning over short segments (MICACL seed).

A clip is a bag of overlapping windows of the aligned face (`window` frames, every `stride`).
Each window is one instance, described by the motion inside it: DIS flow from its first to its
last frame with head motion removed, averaged per landmark region (dx, dy, |flow|, strain, in
IOD), plus grey-level difference energy per region. Attention-based MIL pooling (Ilse et al.,
ICML 2018, gated variant) learns a weight per instance, so a prediction also says which segment
mattered. Training uses the class-balanced loss of Cui et al. (CVPR 2019) for long-tailed labels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deft.errors import ConfigError, VideoError
from deft.face import FaceConfig, align_face
from deft.motion.flow import compute_flow, optical_strain, remove_head_motion, to_gray
from deft.motion.regions import REGIONS, describe_regions, region_geometry
from deft.tools.static_expression import ExpressionModelError, check_training_set
from deft.video import Video, read_video

REGION_FEATURES = 5  # dx, dy, mean |flow| (IOD), strain, grey difference energy (grey levels)
N_FEATURES = len(REGIONS) * REGION_FEATURES
LOSSES = ("balanced", "plain")
MIN_IOD_SHARE = 0.8  # a clip whose eyes are closer than this share of the smallest training clip's is warned
Clip = np.ndarray | Video | str | os.PathLike


@dataclass(frozen=True)
class DynamicConfig:
    """Every knob of the clip-level MIL classifier."""

    window: int = 4  # frames per segment (instance)
    stride: int = 2  # frames between segment starts
    crop_size: int = 128  # aligned crop the flow runs on (IOD 38 px)
    flow: str = "dis"
    hidden: int = 32  # instance embedding width
    attention: int = 16  # attention MLP width
    dropout: float = 0.1
    epochs: int = 300  # full-batch Adam steps
    lr: float = 1e-2
    weight_decay: float = 1e-4
    loss: str = "balanced"  # "balanced" (Cui et al. 2019) | "plain" cross-entropy
    beta: float = 0.99  # effective-number beta: 0 = no reweighting, -> 1 = inverse frequency
    seed: int = 0


@dataclass
class ClipSegments:
    """The instances of one clip: one feature row per window and the frames it spans."""

    features: np.ndarray  # (N, N_FEATURES) float32
    ranges: list[tuple[int, int]]  # (first, last) frame of each window, inclusive
    iod: float = 0.0  # inter-ocular distance of the face in the source frames, px (0: unknown)


@dataclass
class ClipPrediction:
    label: str
    probabilities: dict[str, float]  # label -> probability (sums to 1)
    weights: list[float]  # attention weight of each segment (sums to 1)
    ranges: list[tuple[int, int]]  # (first, last) frame of each segment
    top_segment: tuple[int, int]  # frame range of the segment that weighed most
    warnings: list[str] = field(default_factory=list)  # e.g. a face smaller than the model was trained on

    def to_dict(self) -> dict:
        return {"label": self.label, "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
                "top_segment": list(self.top_segment), "weights": [round(w, 4) for w in self.weights],
                "warnings": self.warnings}


def _frames(clip: Clip) -> tuple[np.ndarray, str]:
    if isinstance(clip, Video):
        return clip.frames, clip.source
    if isinstance(clip, np.ndarray):
        if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
            raise VideoError(f"clip array of shape {clip.shape} and dtype {clip.dtype}; give RGB uint8 frames (T, H, W, 3)")
        return clip, "array"
    return read_video(clip).frames, os.fspath(clip)


def segment_features(clip: Clip, config: DynamicConfig = DynamicConfig()) -> ClipSegments:
    """Align the face once, then describe the motion inside every window of the clip (the MIL instances).

    Raises VideoError when the clip is shorter than one window, FaceError when no face is found.
    """
    frames, source = _frames(clip)
    if len(frames) < config.window:
        raise VideoError(f"{source}: {len(frames)} frame(s), fewer than one {config.window}-frame segment; give a longer clip")
    face = align_face(frames, FaceConfig(crop_size=config.crop_size), source)
    grey = np.stack([to_gray(c) for c in face.crops])  # (T, S, S)
    ys, xs = np.mgrid[0:config.crop_size, 0:config.crop_size]
    masks = []
    for spec in REGIONS:
        (cx, cy), radius = region_geometry(spec, face.landmarks, face.iod)
        masks.append((xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2)
    starts = list(range(0, len(frames) - config.window + 1, config.stride))
    if starts[-1] != len(frames) - config.window:
        starts.append(len(frames) - config.window)  # the last window ends on the last frame
    rows, ranges = [], []
    for start in starts:
        last = start + config.window - 1
        flow = remove_head_motion(compute_flow(grey[start], grey[last], config.flow), face.landmarks, face.iod)
        regions = describe_regions(flow, optical_strain(flow), face.landmarks, face.iod)
        diff = np.abs(grey[last].astype(np.float32) - grey[start].astype(np.float32))
        energy = [float(diff[m].mean()) if m.any() else 0.0 for m in masks]
        rows.append([v for r, e in zip(regions, energy)
                     for v in (r.dx / face.iod, r.dy / face.iod, r.mean_magnitude / face.iod, r.strain, e)])
        ranges.append((start, last))
    source_iod = face.iod / np.sqrt(abs(np.linalg.det(face.transform[:, :2])))  # crop px -> source px
    return ClipSegments(np.asarray(rows, np.float32), ranges, float(source_iod))


def class_balanced_weights(counts: Sequence[int], beta: float) -> np.ndarray:
    """Per-class loss weights (1 - beta) / (1 - beta^n_c), scaled to sum to the number of classes (Cui et al. 2019)."""
    n = np.maximum(np.asarray(counts, np.float64), 1.0)
    effective = (1.0 - np.power(beta, n)) / (1.0 - beta) if beta > 0 else np.ones_like(n)
    w = 1.0 / effective
    return (w * len(n) / w.sum()).astype(np.float32)


class AttentionMIL(nn.Module):
    """Gated attention MIL: instances (B, N, F) -> class logits (B, C) and instance weights (B, N)."""

    def __init__(self, n_features: int, n_classes: int, config: DynamicConfig):
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(n_features, config.hidden), nn.GELU(), nn.Dropout(config.dropout))
        self.att_v = nn.Linear(config.hidden, config.attention)
        self.att_u = nn.Linear(config.hidden, config.attention)
        self.att_w = nn.Linear(config.attention, 1)
        self.classify = nn.Linear(config.hidden, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encode(x)  # (B, N, H)
        score = self.att_w(torch.tanh(self.att_v(h)) * torch.sigmoid(self.att_u(h))).squeeze(-1)  # (B, N)
        weights = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=1)  # padding gets weight 0
        bag = (weights.unsqueeze(-1) * h).sum(1)  # (B, H)
        return self.classify(bag), weights


@contextmanager
def _one_thread() -> Iterator[None]:
    """The net has a few thousand weights: on a busy CPU, handing each tiny op to a thread pool costs
    more than it saves."""
    # measured on 2 shared cores: 150 steps took 2 s with torch's thread pool, 0.25 s on one thread
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _pad(bags: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack bags of different lengths: (B, N_max, F) features and a (B, N_max) mask of real instances."""
    n_max = max(len(b) for b in bags)
    x = torch.zeros(len(bags), n_max, bags[0].shape[1])
    mask = torch.zeros(len(bags), n_max, dtype=torch.bool)
    for i, b in enumerate(bags):
        x[i, : len(b)], mask[i, : len(b)] = torch.from_numpy(b), True
    return x, mask


class DynamicExpressionModel:
    """Trainable clip classifier: `fit`, `predict` (label, probabilities, top segment), `save` / `load`."""

    def __init__(self, config: DynamicConfig = DynamicConfig()):
        if config.loss not in LOSSES:
            raise ConfigError(f"unknown loss {config.loss!r}; choose one of {', '.join(LOSSES)}")
        if config.window < 2 or config.stride < 1:
            raise ConfigError(f"window {config.window} and stride {config.stride}: need window >= 2 and stride >= 1")
        self.config = config
        self.labels: list[str] = []
        self.net: AttentionMIL | None = None
        self.mean = np.zeros(N_FEATURES, np.float32)
        self.scale = np.ones(N_FEATURES, np.float32)
        self.trained_iod: list[float] = []  # inter-ocular distances (px) of the training clips

    def fit(self, clips: Sequence[Clip], labels: Sequence[str]) -> DynamicExpressionModel:
        """Train on clips (RGB frame arrays, Videos or file paths) with one expression label each; returns self."""
        check_training_set(len(clips), list(labels), "clip")
        return self.fit_segments([segment_features(c, self.config) for c in clips], labels)

    def fit_segments(self, bags: Sequence[ClipSegments], labels: Sequence[str]) -> DynamicExpressionModel:
        """Train on precomputed `segment_features` (lets callers cache the flow step); returns self."""
        labels = [str(v) for v in labels]
        check_training_set(len(bags), labels, "clip")
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.labels = sorted(set(labels))
        stacked = np.concatenate([b.features for b in bags])
        self.mean, self.scale = stacked.mean(0), stacked.std(0) + 1e-6
        self.trained_iod = [float(b.iod) for b in bags if b.iod > 0]  # its validity range: face sizes seen
        x, mask = _pad([(b.features - self.mean) / self.scale for b in bags])
        y = torch.tensor([self.labels.index(v) for v in labels])
        counts = np.bincount(y.numpy(), minlength=len(self.labels))
        weight = class_balanced_weights(counts, cfg.beta) if cfg.loss == "balanced" else np.ones(len(counts), np.float32)
        loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(weight))
        self.net = AttentionMIL(N_FEATURES, len(self.labels), cfg)
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.net.train()
        with _one_thread():
            for _ in range(cfg.epochs):
                opt.zero_grad()
                logits, _ = self.net(x, mask)
                loss_fn(logits, y).backward()
                opt.step()
        self.net.eval()
        return self

    def predict(self, clips: Sequence[Clip]) -> list[ClipPrediction]:
        """Label, class probabilities and the segment that mattered most, for each clip."""
        if len(clips) == 0:
            raise ExpressionModelError("no clips given to predict; give at least one clip")
        return self.predict_segments([segment_features(c, self.config) for c in clips])

    def predict_segments(self, bags: Sequence[ClipSegments]) -> list[ClipPrediction]:
        """Predictions from precomputed `segment_features`."""
        if self.net is None:
            raise ExpressionModelError("the model is not trained; call fit or load a saved model")
        x, mask = _pad([(b.features - self.mean) / self.scale for b in bags])
        with torch.no_grad(), _one_thread():
            logits, weights = self.net(x, mask)
        probs = torch.softmax(logits, 1).numpy()
        out = []
        for b, p, w in zip(bags, probs, weights.numpy()):
            w = w[: len(b.ranges)]
            out.append(ClipPrediction(self.labels[int(p.argmax())], dict(zip(self.labels, map(float, p))),
                                      [float(v) for v in w], list(b.ranges), b.ranges[int(w.argmax())],
                                      self._size_warnings(b.iod)))
        return out

    @property
    def validated_on(self) -> str:
        """What the model was trained on: clip count, labels and face sizes (its validity range)."""
        iod = self.trained_iod
        sizes = f", eyes {min(iod):.0f}-{max(iod):.0f} px apart" if iod else ""
        return f"{len(iod) or '?'} training clips of {', '.join(self.labels)}{sizes}"

    def _size_warnings(self, iod: float) -> list[str]:
        """A warning when the clip's face is smaller than every training clip's (less than MIN_IOD_SHARE of it)."""
        if not self.trained_iod or iod <= 0 or iod >= MIN_IOD_SHARE * min(self.trained_iod):
            return []
        return [f"eyes {iod:.0f} px apart, below the {min(self.trained_iod):.0f} px of the smallest training face: "
                "flow on so few pixels was not validated"]

    def save(self, folder: str | os.PathLike) -> str:
        """Write model.safetensors (weights, feature scaling) and config.json into `folder`; returns the folder."""
        from safetensors.torch import save_file

        if self.net is None:
            raise ExpressionModelError("the model is not trained; nothing to save")
        out = Path(os.fspath(folder))
        out.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        tensors |= {"feature_mean": torch.from_numpy(self.mean), "feature_scale": torch.from_numpy(self.scale)}
        save_file(tensors, str(out / "model.safetensors"))
        meta = {"kind": "deft.dynamic_expression", "labels": self.labels, "n_features": N_FEATURES,
                "config": asdict(self.config), "trained_iod": [round(v, 2) for v in self.trained_iod]}
        (out / "config.json").write_text(json.dumps(meta, indent=2))
        return str(out)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> DynamicExpressionModel:
        """Read a model folder written by `save`; raises ExpressionModelError naming the folder when it is not one."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        src = Path(os.fspath(folder))
        if not (src / "config.json").is_file() or not (src / "model.safetensors").is_file():
            raise ExpressionModelError(f"{src}: no config.json + model.safetensors there; save a DynamicExpressionModel first")
        try:
            meta = json.loads((src / "config.json").read_text())
            if meta.get("kind") != "deft.dynamic_expression" or meta.get("n_features") != N_FEATURES:
                raise ExpressionModelError(f"{src}: not a dynamic expression model for this deft version")
            model = cls(DynamicConfig(**meta["config"]))
            model.labels = list(meta["labels"])
            model.trained_iod = [float(v) for v in meta.get("trained_iod", [])]  # absent in older models
            tensors = load_file(str(src / "model.safetensors"))
            model.mean, model.scale = tensors.pop("feature_mean").numpy(), tensors.pop("feature_scale").numpy()
            model.net = AttentionMIL(N_FEATURES, len(model.labels), model.config)
            model.net.load_state_dict(tensors)
        except (ValueError, KeyError, TypeError, RuntimeError, OSError, SafetensorError) as err:
            raise ExpressionModelError(f"{src}: unreadable dynamic expression model ({err}); save it again") from err
        model.net.eval()
        return model


def predict_clip(model_folder: str, video_path: str) -> dict:
    """Expression of a video clip (file or frame folder) with a saved dynamic model.

    Returns {label, probabilities, top_segment: [first, last] frame of the segment that decided, weights,
    warnings, validated_on}.
    """
    model = DynamicExpressionModel.load(model_folder)
    return model.predict([video_path])[0].to_dict() | {"validated_on": model.validated_on}
