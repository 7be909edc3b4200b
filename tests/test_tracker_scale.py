"""The long-video follower's box scale (deft/tracking/tracker.py, steady_box): a fit that grows with its box
must not size the box.

The long benchmark's video 7 (seed 7), right person: hopper-mirror-broad-dark, glasses, eyes 60 px apart and
still for its first 4 s. Its first 60 frames, filmed and encoded as the long videos are, are enough for the
runaway: with the box scaled by each frame's fitted IOD, the IOD read climbed to 1.15-1.23 x from frame ~28
(the eye corners on the glasses' frames).
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from deft.data.world.camera import write_mp4
from deft.data.world.long import LongVideoSpec, plan, stream_frames
from deft.face import eye_centres, hog_faces
from deft.long.stream import stream_frames as decoded_frames
from deft.long.tracks import LongConfig
from deft.tracking.tracker import Follower

SPEC = LongVideoSpec(duration_s=60.0, people=2, identities=("astronaut-dark", "hopper-mirror-broad-dark"), seed=7)
FRAMES = 60  # one rendering chunk


def test_a_face_with_glasses_keeps_its_iod_over_a_long_video_prefix(tmp_path):
    people = plan(SPEC)
    right = people[1].track
    assert np.all(right.scale[:FRAMES] == 1.0) and not np.any(right.yaw[:FRAMES])  # so its IOD is iod_px
    path = str(tmp_path / "prefix.mp4")
    write_mp4(path, itertools.islice(stream_frames(people, SPEC.camera, SPEC.seed), 1), SPEC.camera)
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for chunk in decoded_frames(path) for f in chunk.frames]
    boxes, _ = hog_faces(grays[0], 1)
    seed = next(b for b in boxes if b[0] >= SPEC.camera.width // 2)
    follower = Follower(LongConfig().track, 1)
    read = []
    for t, gray in enumerate(grays):
        lm, _, _ = follower.step(gray, seed if t == 0 else None)
        assert lm is not None, f"lost on frame {t}"
        left, right_eye = eye_centres(lm)
        read.append(float(np.linalg.norm(right_eye - left)))
    ratio = np.array(read) / SPEC.camera.iod_px
    assert len(ratio) == FRAMES
    assert np.all(np.abs(ratio - 1) <= 0.10), f"IOD read / rendered per frame: {np.round(ratio, 2)}"
