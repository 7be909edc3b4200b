"""A video with two people: two tracks, each with its own spotted interval (issue 12)."""

import numpy as np
import pytest

from deft.data.synthetic import SyntheticSpec, render
from deft.video import write_video


def _padded(spec: SyntheticSpec, before: int, total: int) -> np.ndarray:
    """The clip with its first frame held `before` frames ahead and its last frame held up to `total`, each
    held frame with fresh sensor noise (a camera's, as in the clip)."""
    f = render(spec).frames
    held = np.concatenate([np.repeat(f[:1], before, 0), f, np.repeat(f[-1:], total - before - len(f), 0)])
    noise = np.random.default_rng(spec.seed).normal(0, spec.noise, held.shape)
    keep = np.zeros(total, bool)
    keep[before:before + len(f)] = True  # the clip's own frames already have theirs
    noise[keep] = 0
    return np.clip(held + noise, 0, 255).astype(np.uint8)


@pytest.mark.slow
def test_two_people_two_tracks_with_their_own_intervals(tmp_path):
    from deft.long.analyze import analyze_long

    still = dict(n_frames=40, onset=10, apex=18, offset=30, drift_px=0.0, drift_deg=0.0)
    left = _padded(SyntheticSpec(face="astronaut", seed=5, **still), 300, 640)  # smile: 310-330
    right = _padded(SyntheticSpec(face="hopper", aus=(("AU4", 2.5), ("AU7", 2.0)), seed=6, **still), 450, 640)  # 460-480
    path = tmp_path / "two.mp4"
    write_video(np.concatenate([left, right], axis=2), path)
    result = analyze_long(path).to_dict()
    faces = result["faces"]
    assert len(faces) == 2 and all(f["frames"] == [0, 639] for f in faces)
    windows = {}
    for face in faces:  # each face's strongest interval is its own expression: the smile or the frown
        top = max(face["intervals"], key=lambda iv: iv["score"])
        windows[face["face_id"]] = (310, 330) if abs(top["onset"] - 310) <= 2 else (460, 480)
        assert abs(top["onset"] - windows[face["face_id"]][0]) <= 2
        assert abs(top["offset"] - windows[face["face_id"]][1]) <= 2
        if windows[face["face_id"]] == (310, 330):
            assert top["emotion"]["label"] == "positive"
    assert sorted(windows.values()) == [(310, 330), (460, 480)]
    for face in faces:  # and nothing on it where only the other face moved
        other = (460, 480) if windows[face["face_id"]] == (310, 330) else (310, 330)
        assert not [iv for iv in face["intervals"] if iv["onset"] <= other[1] and other[0] <= iv["offset"]]
