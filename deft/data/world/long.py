"""Long videos (30 s - 10 min) of one or two people side by side, streamed to mp4 in chunks, with truth.

Each person lives in their own half-width camera with their own schedule of non-overlapping events;
the halves are rendered chunk by chunk, joined, filmed and encoded, so memory stays flat however long
the video. The truth JSON (beside the video) holds every event interval and per-frame truth as arrays
(see `long_truth`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from deft.data.world.events import EventRanges, schedule
from deft.data.world.track import CLOSURE_AUS, Camera, FaceTrack
from deft.errors import ConfigError

CHUNK_FRAMES = 60  # frames rendered and encoded at a time
DURATION_S = (30.0, 600.0)
TRUTH_FORMAT = ("per-frame arrays in this JSON: faces[i].frames.<name>[t]; AU keys 'AU12' (both sides) or "
                "'AU12:left'; closure AUs (AU43/45/46) in eye-closure fraction, other AUs in inter-ocular "
                "distances; yaw/pitch/roll in degrees; centre_x/centre_y and box in video pixels")


@dataclass(frozen=True)
class LongVideoSpec:
    """One long video: how long, how many people, how filmed."""

    duration_s: float = 60.0
    people: int = 1
    identities: tuple[str, ...] = ()  # one per person; empty: drawn from identity.IDENTITIES by seed
    # CRF 18: visually transparent H.264; lossless would be ~200 MB a minute at 640x480 and twice as slow
    camera: Camera = Camera(width=640, height=480, iod_px=60.0, crf=18)
    seed: int = 0


@dataclass
class Person:
    identity: str
    camera: Camera  # the person's half (or whole) of the frame
    x0: int  # where that half starts in the video, pixels
    track: FaceTrack


def plan(spec: LongVideoSpec, ranges: EventRanges = EventRanges()) -> list[Person]:
    """Who sits where and what each person does (no rendering yet)."""
    if not DURATION_S[0] <= spec.duration_s <= DURATION_S[1]:
        raise ConfigError(f"a long video lasts {DURATION_S[0]:.0f}-{DURATION_S[1]:.0f} s, got {spec.duration_s}")
    if spec.people not in (1, 2):
        raise ConfigError(f"a long video has 1 or 2 people, got {spec.people}")
    if spec.identities and len(spec.identities) != spec.people:
        raise ConfigError(f"give one identity per person ({spec.people}), got {len(spec.identities)}")
    width = spec.camera.width // spec.people
    if width % 2 or spec.camera.height % 2:
        raise ConfigError(f"each person's part must have even sides for H.264, got {width}x{spec.camera.height}")
    names = spec.identities or _draw_identities(spec.people, spec.seed)
    n_frames = int(round(spec.duration_s * spec.camera.fps))
    people = []
    for i, name in enumerate(names):
        rng = np.random.default_rng([spec.seed, i])
        track = schedule(n_frames, spec.camera.fps, rng, ranges=ranges)
        people.append(Person(name, replace(spec.camera, width=width), i * width, track))
    return people


def _draw_identities(people: int, seed: int) -> tuple[str, ...]:
    """One identity per person, each derived from a different photo (not a person beside their mirror image)."""
    from deft.data.world.identity import IDENTITIES

    rng = np.random.default_rng(seed)
    bases = sorted({name.split("-")[0] for name in IDENTITIES})
    chosen = rng.choice(bases, size=min(people, len(bases)), replace=False)
    return tuple(str(rng.choice([n for n in IDENTITIES if n.split("-")[0] == base])) for base in chosen)


def stream_frames(people: list[Person], camera: Camera, seed: int, boxes: list[list] | None = None,
                  chunk: int = CHUNK_FRAMES) -> Iterator[np.ndarray]:
    """Filmed frames, `chunk` at a time; each person's face box per frame is appended to `boxes[i]`."""
    from deft.data.world.camera import film
    from deft.data.world.identity import load_identity
    from deft.data.world.render import render_face

    identities = [load_identity(p.identity) for p in people]
    n_frames = people[0].track.n_frames
    for start in range(0, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        halves = []
        for i, (person, identity) in enumerate(zip(people, identities)):
            rendered = render_face(identity, person.track, person.camera, start, stop)
            halves.append(rendered.frames)
            if boxes is not None:
                lm = rendered.landmarks + np.array([person.x0, 0.0], np.float32)
                boxes[i].extend(np.round(np.concatenate([lm.min(axis=1), lm.max(axis=1)], axis=1)).astype(int).tolist())
        yield film(np.concatenate(halves, axis=2), camera, start, seed)


def long_truth(spec: LongVideoSpec, people: list[Person], boxes: list[list] | None = None) -> dict:
    """The truth JSON: video facts, per face its region, events and per-frame arrays."""
    cam = spec.camera
    faces = []
    for i, person in enumerate(people):
        t = person.track
        frames = {
            "yaw": _rounded(t.yaw, 2), "pitch": _rounded(t.pitch, 2), "roll": _rounded(t.roll, 2),
            "scale": _rounded(t.scale, 4),
            "centre_x": _rounded(person.x0 + t.centre[:, 0] * person.camera.width, 1),
            "centre_y": _rounded(t.centre[:, 1] * cam.height, 1),
            "aus": {(au if side == "both" else f"{au}:{side}"): _rounded(v, 3 if au in CLOSURE_AUS else 4)
                    for (au, side), v in sorted(t.aus.items())},
        }
        if boxes is not None:
            frames["box"] = boxes[i]
        faces.append({
            "identity": person.identity, "region": [person.x0, 0, person.x0 + person.camera.width, cam.height],
            "iod_px": cam.iod_px, "events": [e.to_dict() for e in t.events], "frames": frames,
        })
    return {
        "fps": cam.fps, "n_frames": people[0].track.n_frames, "width": cam.width, "height": cam.height,
        "crf": cam.crf, "seed": spec.seed, "per_frame": TRUTH_FORMAT, "faces": faces,
    }


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return np.round(np.asarray(values, np.float64), digits).tolist()


def write_long_video(path: str | os.PathLike, spec: LongVideoSpec, truth_path: str | os.PathLike | None = None,
                     chunk: int = CHUNK_FRAMES) -> dict:
    """Render `spec` to an mp4 at `path` chunk by chunk and its truth JSON to `truth_path`
    (default: beside the video, same name, .json); returns the truth."""
    from deft.data.world.camera import write_mp4

    people = plan(spec)
    boxes: list[list] = [[] for _ in people]
    write_mp4(os.fspath(path), stream_frames(people, spec.camera, spec.seed, boxes, chunk), spec.camera)
    truth = {"video": os.fspath(path), **long_truth(spec, people, boxes)}
    truth_path = os.path.splitext(os.fspath(path))[0] + ".json" if truth_path is None else truth_path
    with open(truth_path, "w") as f:
        json.dump(truth, f, separators=(",", ":"))
    return truth
