"""Clip quality control (the MERC seed's practice): face everywhere, one identity, stable landmarks, length."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from deft.face import SAME_PERSON_DISTANCE, AlignedFace, detect_faces, face_descriptor, landmarks68

MIN_FRAMES = 8  # shorter clips cannot hold onset, apex and offset apart (about 0.25 s at 30 fps)
SAMPLED_FRAMES = 5  # frames checked per clip, evenly spread
# Rigid landmarks (nose bridge, eye corners) may wander this far (IOD, std over sampled frames) in
# the aligned crop before tracking is called unstable: micro-expressions barely move them.
LANDMARK_JITTER_IOD = 0.05


# First and last aligned faces that correlate this well are one face (a micro-expression changes a
# few percent of the pixels); only below it is the 90 ms dlib ResNet descriptor computed. Measured
# on crops shrunk CORRELATION_SHRINK times (averages sensor noise away): on synthetic clips with
# 1.5 grey-level noise the same face scores 0.93-1.0 (0.87 at full size), another face 0.34.
SAME_FACE_CORRELATION = 0.95
CORRELATION_SHRINK = 4


def _correlation(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Normalised cross-correlation of two aligned crops inside the face box (grey levels, shrunk)."""
    left, top, right, bottom = (max(0, v) for v in box)

    def grey(img: np.ndarray) -> np.ndarray:
        patch = img[top:bottom, left:right].mean(axis=-1).astype(np.float32)
        f = 1 / CORRELATION_SHRINK
        return cv2.resize(patch, None, fx=f, fy=f, interpolation=cv2.INTER_AREA).ravel().astype(np.float64)

    pa, pb = grey(a), grey(b)
    pa, pb = pa - pa.mean(), pb - pb.mean()
    return float(pa @ pb / max(np.linalg.norm(pa) * np.linalg.norm(pb), 1e-9))


@dataclass
class QualityReport:
    passed: bool
    checks: dict[str, dict] = field(default_factory=dict)  # name -> {"passed", "value", "detail"}

    @property
    def reasons(self) -> list[str]:
        return [c["detail"] for c in self.checks.values() if not c["passed"]]


def _check(report: QualityReport, name: str, passed: bool, value, problem: str) -> None:
    report.checks[name] = {"passed": bool(passed), "value": value, "detail": "ok" if passed else problem}
    report.passed = report.passed and bool(passed)


def clip_quality(face: AlignedFace, min_frames: int = MIN_FRAMES) -> QualityReport:
    """Check the aligned clip; every failed check says what is wrong in its `detail`."""
    report = QualityReport(True)
    t = len(face.crops)
    _check(report, "length", t >= min_frames, t, f"{t} frames, fewer than {min_frames}")
    idx = sorted(set(np.linspace(0, t - 1, min(SAMPLED_FRAMES, t)).round().astype(int).tolist()))
    boxes = {i: detect_faces(face.crops[i], upsample=0) for i in idx}
    missing = [i for i in idx if not boxes[i]]
    _check(report, "face_in_every_frame", not missing, missing, f"no face in sampled frame(s) {missing}")
    found = [i for i in idx if boxes[i]]
    if len(found) >= 2:
        lms = np.stack([landmarks68(face.crops[i], boxes[i][0]) for i in found])
        rigid = lms[:, [27, 28, 29, 30, 36, 39, 42, 45]]
        jitter = float(rigid.std(axis=0).mean() / face.iod)
        _check(report, "landmarks_stable", jitter <= LANDMARK_JITTER_IOD, round(jitter, 4),
               f"rigid landmarks wander {jitter:.3f} IOD (limit {LANDMARK_JITTER_IOD})")
        first, last = found[0], found[-1]
        similarity = _correlation(face.crops[first], face.crops[last], boxes[first][0])
        if similarity >= SAME_FACE_CORRELATION:  # the same pixels, near enough: no ResNet needed
            distance = 0.0
        else:
            distance = float(np.linalg.norm(face_descriptor(face.crops[first], boxes[first][0])
                                            - face_descriptor(face.crops[last], boxes[last][0])))
        report.checks["face_correlation"] = {"passed": True, "value": round(similarity, 4), "detail": "ok"}
        _check(report, "same_identity", distance < SAME_PERSON_DISTANCE, round(distance, 3),
               f"identity changes between frames {first} and {last} (descriptor distance {distance:.2f} "
               f">= {SAME_PERSON_DISTANCE})")
    return report
