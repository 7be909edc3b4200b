"""Per-clip expert inputs from an Analysis: what each expert sees, as fixed-size numpy arrays.

structure  : onset crop (static appearance), landmarks, dlib identity descriptor
texture    : grey-level differences from onset over the phase window (fine temporal change)
motion     : onset->apex flow and strain maps, region descriptors, AU rule outputs
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np

from deft.analyze import Analysis
from deft.face import detect_faces, face_descriptor
from deft.labels import DETECTED_AUS

MAP_SIZE = 64  # side of every image-like input
TEXTURE_FRAMES = 8  # frames sampled across onset..offset for the texture expert
REGION_FEATURES = 6  # dx, dy, mean, peak (IOD) + strain + |mean| per region
FLOW_SCALE = 0.05  # flow is divided by IOD * this, so 1-3 px motion maps to about 0.3-1


@dataclass
class ClipFeatures:
    structure_image: np.ndarray  # (1, 64, 64) float32, onset grey crop in [0, 1]
    apex_image: np.ndarray  # (1, 64, 64) apex grey crop: structure must not change between the two
    structure_vector: np.ndarray  # (136 + 128,) landmarks in crop units + identity descriptor
    texture: np.ndarray  # (TEXTURE_FRAMES, 64, 64) frame - onset, grey, [-1, 1]
    motion_maps: np.ndarray  # (3, 64, 64) flow x, flow y (IOD-scaled), strain
    motion_vector: np.ndarray  # (18 * 6 + 12 * 2,) region descriptors + AU confidence and pull

    def to_npz(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_npz(cls, data) -> "ClipFeatures":
        return cls(**{f.name: np.asarray(data[f.name], np.float32) for f in fields(cls)})


def _grey(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (MAP_SIZE, MAP_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def clip_features(analysis: Analysis, with_identity: bool = True) -> ClipFeatures:
    """Expert inputs for one analysed clip (needs the arrays `analyze` keeps: face, flow, strain)."""
    face, ph = analysis.face, analysis.phases
    size = face.crops.shape[1]
    onset = _grey(face.crops[ph.onset])
    descriptor = np.zeros(128, np.float32)
    if with_identity:
        boxes = detect_faces(face.crops[ph.onset], upsample=0)
        if boxes:
            descriptor = face_descriptor(face.crops[ph.onset], boxes[0])
    landmarks = (face.landmarks / size - 0.5).ravel().astype(np.float32)
    idx = np.linspace(ph.onset, max(ph.offset, ph.apex), TEXTURE_FRAMES).round().astype(int)
    texture = np.stack([_grey(face.crops[i]) - onset for i in idx]) * 4.0  # differences are a few grey levels
    unit = analysis.iod * FLOW_SCALE
    flow = cv2.resize(analysis.flow, (MAP_SIZE, MAP_SIZE), interpolation=cv2.INTER_AREA) / unit
    strain = cv2.resize(analysis.strain, (MAP_SIZE, MAP_SIZE), interpolation=cv2.INTER_AREA) * 20.0
    maps = np.concatenate([flow.transpose(2, 0, 1), strain[None]], axis=0)
    iod = analysis.iod
    regions = np.array([[r.dx / iod, r.dy / iod, r.mean_magnitude / iod, r.peak_magnitude / iod, r.strain, r.mean_iod]
                        for r in analysis.regions], np.float32) / FLOW_SCALE
    rules = {a.au: a for a in analysis.all_aus}
    aus = np.array([[rules[au].rule_score, rules[au].pull_iod / FLOW_SCALE] for au in DETECTED_AUS], np.float32)
    return ClipFeatures(
        onset[None].astype(np.float32), _grey(face.crops[ph.apex])[None].astype(np.float32), np.concatenate([landmarks, descriptor]).astype(np.float32),
        np.clip(texture, -1, 1).astype(np.float32), maps.astype(np.float32),
        np.concatenate([regions.ravel(), aus.ravel()]).astype(np.float32),
    )
