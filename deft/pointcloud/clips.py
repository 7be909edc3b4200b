"""Realistic-world clips as point-cloud data: perceived (rendered, tracked, lifted) or from the world's
own landmarks (no pixels: cheap pre-training clouds), with labels and the clip's domain."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deft.data.world.clips import WorldClipSpec, clip_track, clip_truth
from deft.labels import NONE
from deft.pointcloud.lift import lift_clip

# Domains of the pre-training: resolution (eyes apart in px) x whether the head turns.
IOD_BUCKETS = (35.0, 60.0)  # < 35 px low, < 60 px mid, else high
N_DOMAINS = (len(IOD_BUCKETS) + 1) * 2
JITTER_IOD = 0.01  # landmark noise added to the world's exact landmarks (dlib's frame-to-frame jitter)


@dataclass
class CloudClip:
    """One clip: per-frame clouds and 2D landmarks with its labels."""

    clouds: np.ndarray = field(repr=False)  # (T, N, 3) pose-removed canonical points (IOD); NaN where lost
    landmarks: np.ndarray = field(repr=False)  # (T, 68, 2) frame pixels; NaN where lost
    emotion: str  # fine label or "none"
    composite: str
    aus: tuple[str, ...]
    domain: int
    identity: str


def domain_of(spec: WorldClipSpec) -> int:
    """The spec's domain index in [0, N_DOMAINS): resolution bucket x head turning or not."""
    res = int(np.searchsorted(IOD_BUCKETS, spec.camera.iod_px))
    return res * 2 + int("head" in spec.distractors)


def _labelled(spec: WorldClipSpec, landmarks: np.ndarray, truth) -> CloudClip:
    clouds = lift_clip(landmarks, (spec.camera.width, spec.camera.height))
    aus = tuple(sorted(truth.aus)) if truth.emotion != NONE else ()
    return CloudClip(clouds, landmarks, truth.emotion, truth.composite, aus, domain_of(spec), spec.identity)


def perceived_clip(spec: WorldClipSpec) -> CloudClip:
    """Render and film the clip, write it as H.264 mp4 at its camera's CRF and read it back (as a user has
    it), track the face with deft's tracker, lift every frame."""
    import tempfile

    from deft.data.world.clips import render_clip, write_clip
    from deft.tracking import track_face
    from deft.video import read_video

    clip = render_clip(spec)
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/clip.mp4"
        write_clip(clip, path)
        frames = read_video(path).frames
    tracked = track_face(frames, spec.camera.fps)
    return _labelled(spec, tracked.landmarks, clip.truth)


def world_landmarks_clip(spec: WorldClipSpec, rng: np.random.Generator) -> CloudClip:
    """The clip's exact rendered landmarks (no pixels are drawn) plus tracker-like jitter, lifted."""
    from deft.data.world.expression import expression_bases
    from deft.data.world.identity import load_identity
    from deft.data.world.mesh import project
    from deft.data.world.render import pose_at

    track = clip_track(spec)
    mesh = load_identity(spec.identity).mesh
    bases, weights = expression_bases(mesh, track.aus, track.n_frames)
    flat = bases.reshape(len(bases), 2 * len(mesh.points))
    out = np.zeros((track.n_frames, 68, 2))
    for t in range(track.n_frames):
        pts = mesh.points.copy()
        if len(flat):
            pts[:, :2] += (weights[t] @ flat).reshape(-1, 2)
        pose = pose_at(track, spec.camera, t)
        out[t] = project(pts[:68], pose)[0] + rng.normal(0, JITTER_IOD * pose.iod_px, (68, 2))
    return _labelled(spec, out, clip_truth(track))


TRAIN_SETS = ("clean", "pose", "speech", "blinks", "lowres", "all")  # world sets the training clips follow


def fresh_specs(names: tuple[str, ...], n_per_set: int, identities: tuple[str, ...], seed_offset: int
                ) -> list[WorldClipSpec]:
    """Clips filmed like the named world sets (same cameras and distractors) on the given identities, with
    their events re-drawn from seeds moved by `seed_offset` (so they never repeat a held-apart clip)."""
    from dataclasses import replace

    from deft.data.world.clips import world_set

    return [replace(s, seed=s.seed + seed_offset) for name in names
            for s in world_set(name, n_per_set, identities)]
