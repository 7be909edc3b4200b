"""A video file -> its per-frame 3D point clouds, and a saved classifier's reading of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deft.errors import FaceError
from deft.pointcloud.features import clip_input
from deft.pointcloud.lift import lift_clip


def video_clouds(path: str | Path) -> np.ndarray:
    """(T, N, 3) pose-removed point clouds of the one face in a clip (NaN on frames where it was lost)."""
    from deft.tracking import track_face
    from deft.video import read_video

    video = read_video(path)
    idx = video.frame_indices
    fps = video.fps / (idx[1] - idx[0] if len(idx) > 1 else 1)
    tracked = track_face(video.frames, fps)
    if tracked.lost.all():
        raise FaceError(f"{path}: no face was found on any frame; use a clip with one clear face")
    return lift_clip(tracked.landmarks, (video.frames.shape[2], video.frames.shape[1]))


def predict_video(model_folder: str | Path, path: str | Path) -> dict:
    """Fine emotion, composite class and present AUs of a clip by a saved point-cloud classifier."""
    from deft.pointcloud.io import load_classifier
    from deft.pointcloud.train import predict

    clouds = video_clouds(path)
    answer = predict(load_classifier(model_folder), clip_input(clouds)[None])[0]
    return {"source": str(path), "frames": len(clouds),
            "frames_lost": int((~np.isfinite(clouds).all(axis=(1, 2))).sum()), **answer}
