"""The perception pipeline: video -> face -> phases -> motion -> regions -> AUs -> emotion."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from deft.au_model import measured_motion, motion_features, region_motion_iod, score_aus, shipped_model
from deft.aus import AUEvidence, detect_aus, distrust, motion_threshold
from deft.confidence import calibrate, clip_covariates
from deft.detection_limit import (EXPRESSION_AUS, Sensitivity, likely_aus, sensitivity, unseen_aus, unseen_warnings,
                                  unsure_apex)
from deft.emotion import Emotion, classify_emotion, undetermined
from deft.face import AlignedFace, FaceConfig, align_face
from deft.motion.average import ORDINARY_MATCH, apex_frames, mean_image, reference_frames
from deft.motion.drift import far_turn
from deft.motion.frozen import frozen_shares, hides_motion
from deft.motion.flow import compute_flow, optical_strain, presmooth, remove_head_motion, to_gray
from deft.motion.apex_model import apex_scorer, shipped_apex_model
from deft.motion.phases import ApexScore, Phases, find_phases, runner_up
from deft.motion.regions import RegionMotion, describe_regions
from deft.motion.register import MOVED_IOD, Registration, register, registration_warnings, trusted, warp_frames
from deft.ordinary import Ordinary, at_source_size, detect_ordinary, matched_reference, separator, set_aside, supporting_aus
from deft.ordinary.beyond import beyond_speech
from deft.ordinary.explain import explained_aus
from deft.ordinary.separate import mismatch, present
from deft.reliability import judge
from deft.tracking import (HeadPose, Tracked, TrackQuality, clip_quality, head_pose, track_face, track_quality,
                           track_warnings)
from deft.video import Video, VideoLimits, read_video


DEFAULT_FPS = 30.0  # assumed when a video reports no frame rate (smoothing needs one)
SMALL_FACE_PX = 35.0  # eyes closer than this in the source frames: the lowres set's faces (20-30 px), not clean ones


@dataclass(frozen=True)
class AnalyzeConfig:
    """Every knob of `deft analyze`."""

    flow: str = "dis"  # "dis" | "tvl1"
    step: int = 1  # keep every step-th frame
    calibrated: bool = True  # AU confidences from deft/au_calibration.json (False: the rules' own, for refitting it)
    # with `calibrated`: the confidences and thresholds of the learned model, deft/au_model.json (deft.au_model)
    learned: bool = True
    # the apex where the learned spotter scores highest (deft.motion.apex_model, deft/apex_model.json); False: the
    # motion curve's rise-and-fall alone (as fit_apex.py measures it)
    learned_apex: bool = True
    face: FaceConfig = FaceConfig()
    # "depth" (default) | "similarity" | "affine": every frame registered onto the onset face (deft.motion.register);
    # "none": one clip-wide alignment, head motion left to the flow's robust similarity.
    register: str = "depth"
    # True: the AU flow runs between means of a few registered frames (deft.motion.average), pre-blurred by the
    # face's upsampling (deft.motion.flow.presmooth); False: the single reference and apex frames. None (default):
    # averaged only for a small face (eyes under SMALL_FACE_PX apart) whose head stayed still from reference to
    # apex: better on small faces, worse on the all-set's moving heads (benchmarks/README).
    average: bool | None = None
    limits: VideoLimits = VideoLimits()
    # With the learned apex and calibrated confidences: where no expression AU shows at the spotter's best peak,
    # read the AUs at its runner-up and report there if one shows (benchmarks/README, "A second look")
    second_look: bool = True


@dataclass
class Analysis:
    """What deft measured on one clip; `to_dict()` is the `--json` output."""

    source: str
    n_frames: int
    fps: float
    phases: Phases
    regions: list[RegionMotion]
    aus: list[AUEvidence]  # fired AUs only, strongest first
    emotion: Emotion
    iod: float
    flow_method: str
    reader: str
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # Arrays for plots and the experts; not serialised.
    face: AlignedFace | None = field(default=None, repr=False)
    flow: np.ndarray | None = field(default=None, repr=False)  # (S, S, 2) onset->apex, head motion removed
    strain: np.ndarray | None = field(default=None, repr=False)
    all_aus: list[AUEvidence] = field(default_factory=list, repr=False)  # every rule, fired or not
    frame_indices: list[int] = field(default_factory=list, repr=False)  # source-video index of each frame kept
    tracked: Tracked | None = field(default=None, repr=False)  # per-frame landmarks, source frame pixels
    pose: HeadPose | None = field(default=None, repr=False)
    quality: TrackQuality | None = field(default=None, repr=False)
    ordinary: Ordinary | None = field(default=None, repr=False)  # blinks, winks, speech, ...: never an emotion
    reliable: bool = True  # False when the clip's quality says the AU reading cannot be trusted
    reliable_reason: str = ""  # why not, in plain words
    registration: Registration | None = field(default=None, repr=False)  # every frame onto the onset crop
    sensitivity: Sensitivity | None = None  # the least motion each AU needed here; None: uncalibrated confidences
    encoder_crf: float | None = None  # x264's rate factor the video states (deft.encoder); None: not stated

    @property
    def flow_reference(self) -> int:
        """The AU flow's reference frame: the phase-matched one (deft.ordinary.matched_reference), else the onset."""
        ordinary = self.ordinary
        return self.phases.onset if ordinary is None or ordinary.reference is None else ordinary.reference

    def source_frames(self) -> dict:
        """`--step` mapping: frame indices above count kept frames; these keys give the source video's."""
        idx = self.frame_indices or list(range(self.n_frames))
        step = idx[1] - idx[0] if len(idx) > 1 else 1
        ph = self.phases
        return {"step": step, "sampled_fps": round(self.fps / step, 3),
                "source_frames": {"onset": idx[ph.onset], "apex": idx[ph.apex], "offset": idx[ph.offset]}}

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "n_frames": self.n_frames,
            "fps": round(self.fps, 3),
            "phases": self.phases.to_dict(),
            "aus": [a.to_dict() for a in self.aus],
            "emotion": self.emotion.to_dict(),
            "regions": [r.to_dict() for r in self.regions],
            "motion_curve": self.phases.curve,
            "iod_px": round(self.iod, 2),  # kept for the JSON contract: the crop's, as `crop_iod_px`
            **self._iod_dict(),
            "flow": self.flow_method,
            "reader": self.reader,
            "encoder_crf": self.encoder_crf,
            "warnings": self.warnings,
            "reliable": self.reliable,
            "reliable_reason": self.reliable_reason,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            **self.source_frames(),
            **self._tracking_dict(),
            **(self.sensitivity.to_dict() if self.sensitivity is not None else {}),
            **({"ordinary": self.ordinary.to_dict()} if self.ordinary is not None else {}),
        }

    def _iod_dict(self) -> dict:
        """The two eye distances, named: the crop's (region px) and the video's (`quality.iod_px`)."""
        source = None if self.quality is None else round(self.quality.iod_px, 2)
        return {"crop_iod_px": round(self.iod, 2), "source_iod_px": source, "units": {
            "px": "pixels of the face crop (regions' centre, radius, dx, dy, magnitudes), eyes `crop_iod_px` apart",
            "source_iod_px": "eye distance in the video's own frames (median over tracked frames; = quality.iod_px)",
            "iod": "motion / the eye distance (`*_iod`, motion_curve, detection limits): the same in crop and video"}}

    def _tracking_dict(self) -> dict:
        if self.pose is None or self.quality is None:
            return {}
        reg = self.registration
        return {**({} if reg is None else {"registration": reg.to_dict(self.phases.apex, trusted(reg, self.phases.apex))}),
                "pose": self.pose.to_dict(), "pose_range": {k: round(v, 2) for k, v in self.pose.range().items()},
                "quality": self.quality.to_dict()}


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def analyze_frames(
    video: Video, config: AnalyzeConfig = AnalyzeConfig(), phases: tuple[int, int, int] | None = None,
    timings: dict[str, float] | None = None,
) -> Analysis:
    """Run the pipeline on decoded frames; `phases` (onset, apex, offset) overrides spotting. Where the learned
    apex spotted and no expression AU showed at its best peak, deft looks at its runner-up (config.second_look)."""
    timings = {} if timings is None else timings
    with _timed(timings, "face"):
        face = align_face(video.frames, config.face, video.source, warp=config.register == "none")
    with _timed(timings, "track"):
        # Per-frame landmarks and pose in the source frames (with `register`, every frame is registered on them).
        idx = video.frame_indices
        fps = (video.fps or DEFAULT_FPS) / (idx[1] - idx[0] if len(idx) > 1 else 1)  # of the frames kept
        tracked = track_face(video.frames, fps, (face.reference_frame, face.box), config.face.upsample)
        pose = head_pose(tracked.landmarks, (video.frames.shape[2], video.frames.shape[1]))
        quality = track_quality(tracked, pose, video.upscale)
    with _timed(timings, "ordinary"):
        ordinary = detect_ordinary(*at_source_size(video.frames, tracked.landmarks, video.upscale, video.native), fps,
                                   pose=pose.angles())
    clip = _Clip(video, config, face, tracked, pose, quality, ordinary, fps, timings)
    with _timed(timings, "phases"):
        spotted, grey = _spot(clip, phases)
    first = _look(clip, spotted, grey)
    alternative = runner_up(spotted) if config.second_look and config.calibrated else None
    if alternative is None or _expression(first):
        return first
    second = _look(clip, alternative, grey)
    if not _expression(second, second.ordinary.maybe_speech()):
        return first
    second.warnings.append(f"no expression AU showed at the learned spotter's best apex (frame {spotted.apex}); "
                           f"the AUs reported are read at its runner-up (frame {alternative.apex}), where they showed")
    return second


@dataclass(frozen=True)
class _Clip:
    """What analyze_frames found before spotting: every look at an apex reads it."""

    video: Video
    config: AnalyzeConfig
    face: AlignedFace
    tracked: Tracked
    pose: HeadPose
    quality: TrackQuality
    ordinary: Ordinary
    fps: float
    timings: dict[str, float]


def _expression(analysis: Analysis, besides: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether an expression AU fired, not counting `besides` (AUs that may still be speech, for the second look)."""
    return any(a.au in EXPRESSION_AUS and a.au not in besides for a in analysis.aus)


def _spot(clip: _Clip, phases: tuple[int, int, int] | None) -> tuple[Phases, np.ndarray]:
    """Phases spotted apart from speech and blinks (on frames registered onto the reference face unless
    `register` is "none"), and the grey frames the AU flow reads: the source's, or the clip-wide crops' ("none")."""
    config, face, ordinary = clip.config, clip.face, clip.ordinary
    separate = separator(ordinary)
    apex_score = _apex_score(config, clip.fps, ordinary, clip.pose)
    if config.register == "none":
        gray = np.stack([to_gray(c) for c in face.crops])
        return find_phases(gray, face.landmarks, face.iod, phases, clip.video.source, None,
                           separate and separate.residual, False, apex_score), gray
    grey = np.stack([to_gray(f) for f in clip.video.frames])
    first = register(clip.tracked.landmarks, face.reference_frame, config.face.crop_size, config.register)
    depth = first.depth if config.register == "depth" and first.turned() else None
    return find_phases(warp_frames(grey, first), first.landmarks, first.iod, phases, clip.video.source, depth,
                       separate and separate.residual, far_turn(first.residual_2d_iod, clip.pose.range()),
                       apex_score), grey


def _look(clip: _Clip, ph: Phases, grey: np.ndarray) -> Analysis:
    """Measure the AUs, emotion and detection limits at `ph`'s apex, against the frame nearest the expression
    whose mouth and lids are as at the apex (the onset without speech or blinks: deft.ordinary.matched_reference)."""
    video, config, timings, fps, pose = clip.video, clip.config, clip.timings, clip.fps, clip.pose
    ordinary = replace(clip.ordinary)  # this look's reference and set-aside AUs
    tracked, quality = clip.tracked, clip.quality
    reference = matched_reference(ordinary, (ph.onset, ph.apex, ph.offset), fps)
    ordinary.reference = None if reference == ph.onset else reference
    with _timed(timings, "flow"):
        if config.register == "none":
            face, reg = clip.face, None
            flow = compute_flow(grey[reference], grey[ph.apex], config.flow, full_resolution=True)
            flow = remove_head_motion(flow, face.landmarks, face.iod)
            gray = grey
        else:
            reg = register(tracked.landmarks, reference, config.face.crop_size, config.register)
            start, apex = _flow_images(grey, reg, ph, ordinary, fps, config.average, video.upscale)
            # the flow is reference -> apex: its parallax is fitted only when the head turned in between
            depth = reg.depth if config.register == "depth" and reg.turned_at(ph.apex) else None
            flow = compute_flow(start, apex, config.flow, full_resolution=True)
            flow = remove_head_motion(flow, reg.landmarks, reg.iod, depth, fit_cheeks=False)
            face = replace(clip.face, crops=warp_frames(video.frames, reg), landmarks=reg.landmarks, iod=reg.iod,
                           reference_frame=reg.reference, transform=reg.to_crop)
            gray = np.stack([to_gray(c) for c in face.crops])
        strain = optical_strain(flow)
    with _timed(timings, "aus"):
        regions = describe_regions(flow, strain, face.landmarks, face.iod)
        quality = clip_quality(quality, _source_detail(video, reg, gray), face.landmarks, tracked,
                               (ph.onset, ph.apex, ph.offset), fps)
        covariates = clip_covariates(quality, pose, ph, regions, ordinary.kinds())
        reliable, reason = judge(quality, covariates)
        parallax = 0.0 if reg is None else float(np.nan_to_num(reg.parallax_iod(ph.apex)))
        all_aus = detect_aus(regions, face.iod, parallax)
        measured = None  # the motion the learned score read (deft.au_model), which the detection limits replay
        if config.calibrated:
            all_aus = calibrate(all_aus, covariates, reliable)
            if config.learned and ph.vectors is not None:
                phases_ref = (ph.onset, ph.apex, ph.offset, reference)
                measured = measured_motion(region_motion_iod(regions, face.iod), ph.vectors, phases_ref)
                all_aus = score_aus(all_aus, motion_features(measured), covariates, reliable)
        registered = reg is None or trusted(reg, ph.apex)
        if not registered:
            all_aus = distrust(all_aus)
        moved_past = beyond_speech(ordinary, ph.vectors, (ph.onset, ph.apex, ph.offset, reference))
        expression_aus = set_aside(ordinary, all_aus, (reference, ph.apex, ph.offset), moved_past)  # speech/blinks explain the rest
        fired = sorted((a for a in expression_aus if a.fired), key=lambda a: -a.strength_iod)
        emotion = classify_emotion(expression_aus, supporting_aus(ordinary, ph.onset, ph.offset))
        iod_ref = float(tracked.iod[reference])
        unseen = (unseen_aus(frozen_shares(video.frames, tracked.landmarks[reference], iod_ref, reference, ph.apex),
                             {a.au for a in fired}) if hides_motion(video.crf) and np.isfinite(iod_ref) else ())
        likely = likely_aus(expression_aus)  # under their thresholds, but more likely moved than not
        explained = explained_aus(ordinary, reference, ph.apex, set(likely), past_speech=frozenset(ordinary.beyond))
        limits = (sensitivity(covariates, reliable, {a.au for a in fired}, motion_threshold(parallax), registered,
                              motion=measured, model=None if measured is None else shipped_model(), unseen=unseen,
                              doubted=tuple(ordinary.doubted), apex_doubt=unsure_apex(ph.scores, pose.range()),
                              crf=video.crf, likely={au: v for au, v in likely.items() if au not in explained})
                  if config.calibrated else None)
        if limits is not None and limits.inconclusive:
            emotion = undetermined(emotion)
    return Analysis(
        video.source, video.n_frames, video.fps, ph, regions, fired, emotion, face.iod, config.flow, video.reader,
        list(face.warnings) + track_warnings(quality, tracked) + ordinary.warnings()
        + ([] if reg is None else registration_warnings(reg, ph.apex)) + unseen_warnings(unseen),
        timings, face, flow, strain, all_aus,
        list(video.frame_indices), tracked, pose, quality, ordinary, reliable=reliable, reliable_reason=reason,
        registration=reg, sensitivity=limits, encoder_crf=video.crf,
    )


def _source_detail(video: Video, reg: Registration | None, gray: np.ndarray) -> np.ndarray:
    """The grey crops whose sharpness is the face's: on upscaled frames (`Video.upscale`), registered again
    from the frames before upscaling (`Video.native`), so the upscaling's interpolation is not read as blur."""
    if reg is None or video.native is None or video.upscale <= 1.0:
        return gray
    maps = reg.maps / video.upscale
    maps[..., 3] += 0.5 / video.upscale - 0.5  # pixel centres: upscaled u is native (u + 0.5) / upscale - 0.5
    return warp_frames(np.stack([to_gray(f) for f in video.native]), replace(reg, maps=maps))


def _apex_score(config: AnalyzeConfig, fps: float, ordinary: Ordinary, pose: HeadPose) -> ApexScore | None:
    model = shipped_apex_model() if config.learned_apex else None
    return None if model is None else apex_scorer(model, fps, ordinary.signals, pose.angles())


def _flow_images(grey: np.ndarray, reg: Registration, ph: Phases, ordinary: Ordinary, fps: float, average: bool | None,
                 upscale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The AU flow's reference and apex images, registered: single frames, or with `average` each the mean of
    the still frames by the reference and of the apex's neighbours near its motion, blurred by the share of a
    source pixel the crop upsamples (deft.motion.flow.presmooth); `upscale`: frame px per source px (Video's)."""
    upsample = float(np.sqrt(abs(np.linalg.det(reg.to_crop[:, :2])))) * upscale  # crop pixels per source pixel
    if average is None:
        still = reg.moved_iod is None or bool(reg.moved_iod[ph.apex] <= MOVED_IOD)  # dlib's parallax is noise here
        average = reg.iod / upsample < SMALL_FACE_PX and still
    if not average:
        start, apex = warp_frames(grey, reg, [reg.reference, ph.apex])
        return start, apex
    curve, groups = np.asarray(ph.curve), present(ordinary)

    def like(frame: int):  # mouth and lids as at `frame` (speech and blinks move them while the curve stays flat)
        return lambda t: all(mismatch(ordinary, g, t, frame) <= ORDINARY_MATCH for g in groups)

    before = reference_frames(curve, reg.reference, ph.apex, fps, like(reg.reference))
    peak = apex_frames(curve, reg.reference, ph.apex, like(ph.apex))
    warped = warp_frames(grey, reg, before + peak)
    return presmooth(mean_image(warped[:len(before)]), upsample), presmooth(mean_image(warped[len(before):]), upsample)


def analyze(
    path: str | os.PathLike, config: AnalyzeConfig = AnalyzeConfig(), phases: tuple[int, int, int] | None = None
) -> Analysis:
    """Analyse one clip (video file or image-sequence folder)."""
    timings: dict[str, float] = {}
    with _timed(timings, "read"):
        video = read_video(path, config.limits, config.step)
    return analyze_frames(video, config, phases, timings)
