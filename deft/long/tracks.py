"""Several faces followed through a long video, streamed: the FaceSeries builder.

Every `detect_every_s` HOG looks for faces on the (downscaled) frame; a face not already followed starts a
track (deft.tracking's per-frame landmark follower, the same one short clips use) and gets its face_id from
its dlib descriptor: the id of an earlier face not on screen now when close enough, so a person keeps one id
across cuts and occlusions. A track ends where the follower loses the face (never extrapolated). Per frame
and face: raw landmarks, quality, and region motion against `lag` frames before (deft.long.motion); at the
end each face's landmarks are smoothed (forward-backward one-euro) and its head pose solved.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from deft.face import SAME_PERSON_DISTANCE, eye_centres, face_descriptor, hog_faces
from deft.long.identity import FaceGallery
from deft.long.motion import MotionConfig, lag_motion
from deft.long.series import FaceSeries, LongAnalysis
from deft.long.stream import VideoInfo, probe, stream_frames
from deft.motion.regions import REGIONS
from deft.tracking import TrackConfig, head_pose
from deft.tracking.smooth import smooth_track
from deft.tracking.tracker import Follower
from deft.video import VideoLimits

Box = tuple[int, int, int, int]
# Region motion (OpenCV's warps and DIS, which release the GIL) runs in one worker thread while the main
# thread fits the next frame's landmarks (dlib): at most this many frames' motion waits there.
MOTION_AHEAD = 16


@dataclass(frozen=True)
class LongConfig:
    """Every knob of the long-video path."""

    step: int = 1  # analyse every step-th frame (indices stay the source video's)
    chunk: int = 64  # frames decoded at a time (memory: chunk x 0.9 MB at 640x480)
    detect_every_s: float = 1.0  # full-frame HOG this often: new faces appear at most this late
    detect_side: int = 640  # the detection frame's longest side (HOG finds faces >= ~80 px at that size)
    upsample: int = 1  # HOG upsampling while no face has been found yet (small faces)
    same_face_iod: float = 0.5  # two tracks whose eye midpoints are closer than this (IOD) follow one face
    min_track_s: float = 0.5  # faces seen for less than this in all are left out (a false detection)
    identity_distance: float = SAME_PERSON_DISTANCE  # dlib descriptor distance under which faces are one person
    recheck_every_s: float = 10.0  # a followed face's descriptor is compared with the known faces this often
    cut_grey_levels: float = 30.0  # mean |difference| of 80x60 grey thumbnails above which a frame is a cut
    track: TrackConfig = TrackConfig(steady_box=True)  # no landmark runaway over minutes (tracker.BOX_IOD)
    motion: MotionConfig = MotionConfig()
    limits: VideoLimits = VideoLimits()


@dataclass
class _Rows:
    """What one face_id gathered while tracked: analysed-frame positions and their measurements."""

    pos: list[int] = field(default_factory=list)
    raw: list[np.ndarray] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    motion: list[np.ndarray] = field(default_factory=list)


class _Track:
    """One face being followed now; `recent` keeps its last landmarks for the lagged motion."""

    def __init__(self, face_id: int, follower: Follower, lag: int, start: int):
        self.face_id, self.follower, self.start = face_id, follower, start
        self.recent: deque[tuple[int, np.ndarray]] = deque(maxlen=lag + 1)

    @property
    def lm(self) -> np.ndarray:
        return self.recent[-1][1]

    def eyes(self) -> tuple[np.ndarray, float]:
        left, right = eye_centres(self.lm)
        return (left + right) / 2, float(np.linalg.norm(right - left))

    def covers(self, box: Box) -> bool:
        """Whether a detected box's centre lies within this face's landmarks' extent."""
        (x0, y0), (x1, y1) = self.lm.min(axis=0), self.lm.max(axis=0)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        return x0 <= cx <= x1 and y0 <= cy <= y1

    def lm_at(self, pos: int) -> np.ndarray | None:
        return next((lm for p, lm in self.recent if p == pos), None)


def _detect(gray: np.ndarray, config: LongConfig, upsample: int) -> list[Box]:
    scale = min(1.0, config.detect_side / max(gray.shape))
    small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes, _ = hog_faces(small, upsample)
    return [tuple(int(round(v / scale)) for v in b) for b in boxes]


class _Builder:
    """The streaming loop's state: faces on screen, what each face_id gathered, the last grey frames."""

    def __init__(self, info: VideoInfo, config: LongConfig):
        self.info, self.config = info, config
        self.fps = info.fps / max(1, config.step)  # of the analysed frames
        self.lag = config.motion.lag_frames(self.fps)
        self.detect_every = max(1, int(round(config.detect_every_s * self.fps)))
        self.gallery = FaceGallery(config.identity_distance)
        self.active: list[_Track] = []
        self.rows: dict[int, _Rows] = {}
        self.grays: deque[np.ndarray] = deque(maxlen=self.lag + 1)
        self.indices: list[int] = []  # source index of each analysed frame
        self.detect_next = 0
        self.recheck_every = max(1, int(round(config.recheck_every_s * self.fps)))
        self.thumb: np.ndarray | None = None
        self.cuts = 0
        self.switches = 0  # tracks ended because their face no longer matched their id
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="deft-motion")
        self.waiting: deque[tuple[list[np.ndarray], int, Future]] = deque()  # (rows' motion list, row, result)

    def frame(self, index: int, rgb: np.ndarray) -> None:
        pos = len(self.indices)
        self.indices.append(index)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self.grays.append(gray)
        if self._cut(gray):  # another shot: every face is found and identified afresh
            self.active, self.detect_next = [], pos
            self.grays.clear()
            self.grays.append(gray)
        for tr in list(self.active):
            lm, q, _ = tr.follower.step(gray)
            if lm is None:
                self.active.remove(tr)
                self.detect_next = pos + 1  # look for it again at once
            elif (pos - tr.start) % self.recheck_every == 0 and not self._same_person(tr, rgb):
                self.active.remove(tr)
                self.detect_next = pos  # whoever is there now gets their own id
            else:
                self._record(tr, pos, lm, q)
        self._drop_duplicates()
        if pos >= self.detect_next:
            self.detect_next = pos + self.detect_every
            upsample = self.config.upsample if not len(self.gallery) else 0
            for box in _detect(gray, self.config, upsample):
                if not any(tr.covers(box) for tr in self.active):
                    self._start(rgb, pos, box)
        for tr in self.active:
            self._motion(tr, pos, gray)

    def _start(self, rgb: np.ndarray, pos: int, box: Box) -> None:
        follower = Follower(self.config.track, self.config.upsample)
        lm, q, _ = follower.step(rgb, box)
        face_id = self.gallery.identify(face_descriptor(rgb, box), {t.face_id for t in self.active})
        tr = _Track(face_id, follower, self.lag, pos)
        self.active.append(tr)
        self._record(tr, pos, lm, q)

    def _cut(self, gray: np.ndarray) -> bool:
        thumb = cv2.resize(gray, (80, 60), interpolation=cv2.INTER_AREA).astype(np.int16)
        cut = self.thumb is not None and float(np.abs(thumb - self.thumb).mean()) > self.config.cut_grey_levels
        self.thumb = thumb
        self.cuts += cut
        return cut

    def _same_person(self, tr: _Track, rgb: np.ndarray) -> bool:
        """False when the followed face now looks like another known person more than like its own id (the
        follower slid onto someone else); a look merely unlike its own (a turn, a shadow) keeps the track."""
        descriptor = face_descriptor(rgb, tr.follower.current_box())
        own = float(np.linalg.norm(self.gallery.mean(tr.face_id) - descriptor))
        other, _ = self.gallery.nearest(descriptor, {tr.face_id})
        if other < min(own, self.config.identity_distance):
            self.switches += 1
            return False
        if own < self.config.identity_distance:
            self.gallery.add(tr.face_id, descriptor)
        return True

    def _record(self, tr: _Track, pos: int, lm: np.ndarray, q: float) -> None:
        tr.recent.append((pos, lm))
        rows = self.rows.setdefault(tr.face_id, _Rows())
        rows.pos.append(pos)
        rows.raw.append(lm.astype(np.float32))
        rows.quality.append(q)
        rows.motion.append(np.full((len(REGIONS), 2), np.nan, np.float32))

    def _motion(self, tr: _Track, pos: int, gray: np.ndarray) -> None:
        """This frame's region motion, computed in the worker (the frames and landmarks are never changed
        once made: the worker may read them while the next frame is tracked)."""
        prev = tr.lm_at(pos - self.lag)
        if prev is not None and len(self.grays) == self.lag + 1:
            motion = self.rows[tr.face_id].motion
            job = self.worker.submit(lag_motion, self.grays[0], gray, prev, tr.lm, self.config.motion)
            self.waiting.append((motion, len(motion) - 1, job))
            self.settle(MOTION_AHEAD)

    def settle(self, keep: int = 0) -> None:
        """Store the worker's results until at most `keep` frames' motion is still waiting."""
        while len(self.waiting) > keep:
            motion, row, job = self.waiting.popleft()
            motion[row] = job.result()

    def close(self) -> None:
        self.worker.shutdown(cancel_futures=True)

    def _drop_duplicates(self) -> None:
        """Two followers that converged on one face (one person passing in front of another): the younger goes."""
        keep: list[_Track] = []
        for tr in self.active:  # oldest first
            mid, iod = tr.eyes()
            if all(np.linalg.norm(mid - k.eyes()[0]) > self.config.same_face_iod * max(iod, 1e-6) for k in keep):
                keep.append(tr)
        self.active = keep

    def series(self) -> tuple[list[FaceSeries], list[str]]:
        self.settle()
        faces, warnings = [], []
        sx = self.info.width / self.info.work_size[0]
        sy = self.info.height / self.info.work_size[1]
        indices = np.asarray(self.indices)
        for face_id in sorted(self.rows):
            r = self.rows[face_id]
            if len(r.pos) < self.config.min_track_s * self.fps:
                warnings.append(f"face {face_id} seen on {len(r.pos)} frames only; left out")
                continue
            first, last = r.pos[0], r.pos[-1]
            at = np.asarray(r.pos) - first
            n = last - first + 1
            raw = np.full((n, 68, 2), np.nan, np.float32)
            raw[at] = np.stack(r.raw) * np.array([sx, sy], np.float32)
            quality = np.zeros(n)
            quality[at] = r.quality
            motion = np.full((n, len(REGIONS), 2), np.nan, np.float32)
            motion[at] = np.stack(r.motion)
            left, right = eye_centres(np.moveaxis(raw[at], 0, 1))
            smooth = smooth_track(raw, self.fps, float(np.median(np.linalg.norm(right - left, axis=-1))),
                                  self.config.track.smooth).astype(np.float32)
            pose = head_pose(smooth, (self.info.width, self.info.height))
            left, right = eye_centres(np.moveaxis(smooth, 0, 1))
            faces.append(FaceSeries(face_id, indices[first:last + 1], smooth,
                                    np.stack([pose.yaw, pose.pitch, pose.roll], axis=1),
                                    np.linalg.norm(right - left, axis=-1), quality, motion,
                                    self.lag * max(1, self.config.step)))
            lost = n - len(at)
            if lost:
                warnings.append(f"face {face_id}: not tracked on {lost} of {n} frames between its first and last")
        if self.switches:
            warnings.append(f"{self.switches} track(s) ended where the face looked like another known face")
        return faces, warnings


def track_video(path: str | os.PathLike, config: LongConfig = LongConfig()) -> LongAnalysis:
    """Every face of a video file, tracked frame by frame while the video streams by; `intervals` are left
    empty for spotting (deft.long.spotting) to fill."""
    info = probe(path, config.limits)
    builder = _Builder(info, config)
    try:
        for chunk in stream_frames(info.source, config.chunk, config.step, config.limits):
            for index, rgb in zip(chunk.indices, chunk.frames):
                builder.frame(int(index), rgb)
        faces, warnings = builder.series()
    finally:
        builder.close()
    if not faces:
        warnings.insert(0, "no face found in the video")
    n_frames = max(info.n_frames, builder.indices[-1] + 1 if builder.indices else 0)
    return LongAnalysis(info.source, info.fps, n_frames, info.width, info.height, faces,
                        {f.face_id: [] for f in faces}, warnings)
