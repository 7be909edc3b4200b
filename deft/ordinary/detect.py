"""Find a clip's ordinary face motion from its frames and per-frame landmarks."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deft.ordinary.doubt import DoubtConfig, doubt, relative_pitch
from deft.ordinary.eyelids import EyelidConfig, dip_events, lid_dips, lid_events, widen_events
from deft.ordinary.eyes import closure_scores
from deft.ordinary.geometry import face_measures, fill_lost
from deft.ordinary.mouth import MouthConfig, jaw_drops, speech_events
from deft.ordinary.result import Ordinary


@dataclass(frozen=True)
class OrdinaryConfig:
    eyelids: EyelidConfig = EyelidConfig()
    mouth: MouthConfig = MouthConfig()
    doubt: DoubtConfig = DoubtConfig()


def detect_ordinary(frames: np.ndarray, landmarks: np.ndarray, fps: float,
                    config: OrdinaryConfig = OrdinaryConfig(), pose: dict[str, np.ndarray] | None = None) -> Ordinary:
    """Blinks, winks, closed or widened eyes, speech and jaw drops of (T, H, W, 3) RGB frames whose
    (T, 68, 2) landmarks (frame pixels, NaN where lost) are given; eyelid events deft cannot tell from the
    head's motion (per-frame `pose` yaw/pitch in degrees, deft.tracking) are marked unsure (doubt.py)."""
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    measures = face_measures(landmarks)
    eye_open = {side: fill_lost(v) for side, v in measures.eye_open.items()}
    half_window = max(2, round(config.eyelids.window_s * fps))
    closure, shifted, patches = closure_scores(gray, landmarks, half_window)  # a turn's eye moves; a lid covers it
    lids = lid_events(closure, eye_open, fps, config.eyelids, shifted)
    dip = lid_dips(eye_open, relative_pitch(pose, len(frames)), fps, config.eyelids,  # lids the patch missed
                   config.doubt.nod_iod_per_deg)
    lids = sorted([*lids, *dip_events(closure, dip, fps, lids, config.eyelids, shifted)], key=lambda e: e.onset)
    gap = np.mean([eye_open["right"], eye_open["left"]], axis=0)
    eyes = doubt([*lids, *widen_events(eye_open, lids, config.eyelids)], shifted, gap, pose, half_window, config.doubt,
                 dipped=dip >= config.eyelids.dip_iod, patches=patches, flank=max(2, round(config.doubt.flank_s * fps)),
                 iod_px=measures.iod_px)
    mouth, lips, jaw = fill_lost(measures.mouth_open), fill_lost(measures.lip_gap), fill_lost(measures.jaw)
    speech = speech_events(mouth, jaw, fps, measures.iod_px, config.mouth)
    events = [*eyes, *speech, *jaw_drops(mouth, lips, jaw, speech, config.mouth)]
    signals = {"mouth": mouth, "lips": lips, "jaw": jaw, **{f"closure_{side}": v for side, v in closure.items()}}
    return Ordinary(sorted(events, key=lambda e: (e.onset, e.kind)), signals=signals)


def at_source_size(frames: np.ndarray, landmarks: np.ndarray, upscale: float = 1.0,
                   native: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(frames, landmarks) as the video showed the face: on frames upscaled `upscale` times (a long video's
    small-face interval, deft.video.Video) the `native` frames and the landmarks in their pixels, so the eye
    patches and the pixel floors (MouthConfig.syllable_px) read the face a short clip of it would."""
    if native is None or upscale <= 1.0:
        return frames, landmarks
    return native, (landmarks + 0.5) / upscale - 0.5  # pixel centres: upscaled u is native (u + 0.5) / upscale - 0.5
