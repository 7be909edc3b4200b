"""Manipulation and beauty-filter check: noise-residual and JPEG-grid forensics of a face photo or clip.

A camera leaves roughly even sensor noise over the whole photo. A beauty filter (bilateral,
guided, blur) removes it from the face only; a pasted face brings another photo's noise and colour
pipeline; saving as JPEG or H.264 leaves an 8x8 grid and removes noise everywhere (compression, not a
manipulation). The check measures a high-pass residual block by block, compares the face with the ring
of background around it, and two logistic heads (smoothing_filter, splice; manipulation_calibration.py)
turn that into calibrated probabilities, fitted on unmodified images saved as people send them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from deft.errors import ConfigError
from deft.face import AMBIGUOUS_FACE_AREA, eye_centres, hog_faces, landmarks68
from deft.tools.identity import Source, read_frames
from deft.tools.manipulation_calibration import HEADS, VALIDATED_ON
from deft.video import VIDEO_SUFFIXES, VideoLimits

# Immerkær (1996) noise kernel: the image minus a 3x3 neighbour prediction (a denoiser that keeps
# locally planar content), so for white noise of std s its output has std 6 s.
RESIDUAL_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
# Mean of the lower 75 % of |N(0, 1)| draws: trimming the top quarter drops edges and texture.
TRIMMED_ABS_MEAN = 0.5149
NOISE_SCALE = 6 * TRIMMED_ABS_MEAN  # block residual -> noise std in grey levels
NOISE_FLOOR = 0.3  # grey levels added before ratios: 8-bit quantisation alone gives ~0.29
JPEG_BLOCK = 8
MIN_FACE_PX = 100  # narrower faces: inconclusive (64-100 px flagged 12-20 % of unmodified calibration views)
COMPRESSION_GRID = 0.25  # blockiness from which the image is called compressed (PNG and camera JPEG q90+: < 0.2)
NOISE_GONE = 0.5  # grey levels: background noise below this means compression erased what the comparison needs


@dataclass(frozen=True)
class ManipulationConfig:
    """Where the face and its background are measured, in face-relative units."""

    blocks_per_face: int = 8  # block side = face-box width / this, clipped to [8, 24] px
    face_radius: float = 0.75  # face blocks: inside this share of the face ellipse
    ring: tuple[float, float] = (1.3, 2.2)  # background blocks: between these face-ellipse radii
    min_face_blocks: int = 4
    min_background_blocks: int = 8
    clip_frames: int = 3  # frames checked in a clip (evenly spaced); features are their medians
    upsample: int = 1  # HOG upsampling when no face is found at native size


@dataclass
class NoiseFeatures:
    """Residual statistics: noise std in grey levels, ratios as natural logs (0 = equal)."""

    noise_global: float  # median block noise over the whole image
    blockiness: float  # 8x8-grid excess of neighbour differences (0 = no grid)
    residual_energy: float  # mean squared residual / 36: noise variance if the image were flat
    noise_face: float | None = None  # median over face blocks
    noise_background: float | None = None  # median over background-ring blocks
    face_vs_background: float | None = None  # log(face / background), medians
    face_floor_vs_background: float | None = None  # log(face 10th percentile / background 25th)
    face_block_spread: float | None = None  # IQR of log block noise inside the face
    colour_corr_face: float | None = None  # R-G and G-B residual correlation, face blocks
    colour_corr_background: float | None = None
    block_size: int | None = None
    face_box: tuple[int, int, int, int] | None = None


@dataclass
class Flag:
    name: str  # smoothing_filter | splice
    raised: bool
    strength: float  # the head's calibrated probability; raised at its threshold
    reason: str


VERDICTS = ("unmodified", "compressed", "smoothed", "spliced", "inconclusive")


@dataclass
class ManipulationReport:
    source: str
    verdict: str  # one of VERDICTS; "compressed" is not a manipulation
    probability: float | None  # calibrated P(manipulated) of the strongest head (None: not measured)
    threshold: float  # the probability at which that head flags, set on the calibration views
    reason: str
    flags: list[Flag]
    features: NoiseFeatures
    probabilities: dict[str, float]  # each head's calibrated probability
    frames_checked: int = 1
    warnings: list[str] = field(default_factory=list)
    validated_on: str = ""

    @property
    def score(self) -> float:
        """0-1 for ranking: the probability, 0 when nothing could be measured."""
        return self.probability if self.probability is not None else 0.0

    @property
    def raised(self) -> list[str]:
        return [f.name for f in self.flags if f.raised]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"raised": self.raised, "score": self.score}


@lru_cache(maxsize=1)
def _haar() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))


def main_face(rgb: np.ndarray, upsample: int = 1) -> tuple[tuple[int, int, int, int] | None, int]:
    """(box, faces found): the largest face; among faces of similar size the most confident one.

    HOG finds face-like patterns (a round mission patch) as large as the face itself, and
    detect_faces orders by area only, so ties are broken here by dlib's detection score. HOG misses
    a heavily blurred face, the very thing a beauty filter makes: then OpenCV's Haar cascade is tried.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    boxes, scores = hog_faces(gray, upsample)
    if not boxes:
        found = _haar().detectMultiScale(gray, 1.1, 5, minSize=(40, 40))
        if len(found) == 0:
            return None, 0
        x, y, w, _ = max(found, key=lambda r: r[2])
        # Haar boxes start higher (forehead); this maps one onto dlib's eyebrows-to-chin box
        return (int(x + 0.04 * w), int(y + 0.18 * w), int(x + 0.96 * w), int(y + 1.1 * w)), len(found)
    area = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    similar = [i for i in range(len(boxes)) if area[i] >= AMBIGUOUS_FACE_AREA * max(area)]
    return boxes[max(similar, key=lambda i: scores[i])], len(boxes)


def _blocks(a: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) -> (rows, cols, size*size, C) non-overlapping blocks (the ragged edge is dropped)."""
    rows, cols = a.shape[0] // size, a.shape[1] // size
    a = a[: rows * size, : cols * size]
    return a.reshape(rows, size, cols, size, -1).transpose(0, 2, 1, 3, 4).reshape(rows, cols, size * size, -1)


def blockiness(rgb: np.ndarray) -> float:
    """JPEG grid strength: excess of luma differences at the strongest 8-px phase over the typical phase.

    Grid-offset free (a cropped JPEG keeps its grid at another phase); 0 without a grid.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    out = []
    for diffs in (np.abs(np.diff(gray, axis=1)).mean(axis=0), np.abs(np.diff(gray, axis=0)).mean(axis=1)):
        n = len(diffs) // JPEG_BLOCK * JPEG_BLOCK
        if n < 2 * JPEG_BLOCK:
            return 0.0
        phase = diffs[:n].reshape(-1, JPEG_BLOCK).mean(axis=0)
        out.append((phase.max() - np.median(phase)) / (np.median(phase) + 1e-3))
    return float(np.mean(out))


def noise_features(rgb: np.ndarray, box: tuple[int, int, int, int] | None,
                   config: ManipulationConfig = ManipulationConfig()) -> NoiseFeatures:
    """Residual noise statistics of one RGB frame; face-vs-background ones only when `box` is given."""
    res = cv2.filter2D(rgb.astype(np.float32), -1, RESIDUAL_KERNEL, borderType=cv2.BORDER_REFLECT)  # (H, W, 3)
    width = (box[2] - box[0]) if box else min(rgb.shape[:2]) / 4
    size = int(np.clip(width / config.blocks_per_face, 8, 24))
    blocks = _blocks(res, size)  # (rows, cols, size*size, 3)
    mag = np.abs(blocks).reshape(*blocks.shape[:2], -1)
    cut = np.percentile(mag, 75, axis=2, keepdims=True)
    sigma = (mag * (mag <= cut)).sum(axis=2) / np.maximum((mag <= cut).sum(axis=2), 1) / NOISE_SCALE
    feats = NoiseFeatures(float(np.median(sigma)), blockiness(rgb), float(np.mean(res**2) / 36))
    if box is None:
        return feats
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    ys = (np.arange(sigma.shape[0]) + 0.5) * size
    xs = (np.arange(sigma.shape[1]) + 0.5) * size
    # elliptical radius of each block centre around the face (1 = a face half-width / 0.6 height away)
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2 + 0.06 * h  # the box sits high: eyebrows to chin
    radius = np.hypot((xs[None, :] - centre_x) / (0.5 * w), (ys[:, None] - centre_y) / (0.6 * h))
    face = radius < config.face_radius
    ring = (radius > config.ring[0]) & (radius < config.ring[1])
    if face.sum() < config.min_face_blocks or ring.sum() < config.min_background_blocks:
        return feats
    fs, rs = sigma[face], sigma[ring]
    corr = _colour_correlation(blocks, sigma)
    log_ratio = lambda a, b: float(np.log((a + NOISE_FLOOR) / (b + NOISE_FLOOR)))  # noqa: E731
    log_face = np.log(fs + NOISE_FLOOR)
    return dataclasses.replace(
        feats, noise_face=float(np.median(fs)), noise_background=float(np.median(rs)),
        face_vs_background=log_ratio(np.median(fs), np.median(rs)),
        face_floor_vs_background=log_ratio(np.percentile(fs, 10), np.percentile(rs, 25)),
        face_block_spread=float(np.subtract(*np.percentile(log_face, [75, 25]))),
        colour_corr_face=float(np.median(corr[face])), colour_corr_background=float(np.median(corr[ring])),
        block_size=size, face_box=tuple(int(v) for v in box),
    )


def _colour_correlation(blocks: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Per block, mean R-G and G-B correlation of residuals clipped at 3 noise std (texture tamed).

    A camera's demosaicing and JPEG chroma subsampling correlate the channels' noise; another
    source (another camera, a renderer, added noise) correlates them differently.
    """
    lim = 3 * NOISE_SCALE * sigma[..., None, None] + 1e-3
    b = np.clip(blocks, -lim, lim)
    b = b - b.mean(axis=2, keepdims=True)
    cov = lambda i, j: (b[..., i] * b[..., j]).mean(axis=2)  # noqa: E731
    return (cov(0, 1) / np.sqrt(cov(0, 0) * cov(1, 1) + 1e-6) + cov(1, 2) / np.sqrt(cov(1, 1) * cov(2, 2) + 1e-6)) / 2


# The evidence a calibrated head reads (NoiseFeatures -> one vector; order matters, see calibration).
EVIDENCE = ("face_floor_vs_background", "face_vs_background", "face_block_spread", "colour_gap",
            "log_noise_global", "log_noise_background", "blockiness", "log_face_px")


def evidence(f: NoiseFeatures) -> np.ndarray | None:
    """The EVIDENCE vector of measured features; None without a measured face."""
    if f.face_floor_vs_background is None:
        return None
    width = f.face_box[2] - f.face_box[0]
    return np.array([f.face_floor_vs_background, f.face_vs_background, f.face_block_spread,
                     abs(f.colour_corr_face - f.colour_corr_background), np.log(f.noise_global + NOISE_FLOOR),
                     np.log(f.noise_background + NOISE_FLOOR), min(f.blockiness, 1.0), np.log(width)])


def head_probability(head: dict, x: np.ndarray) -> float:
    """Calibrated P(manipulated) of one logistic head (a dict of manipulation_calibration.HEADS) at evidence x."""
    z = (x - np.asarray(head["mean"])) / np.asarray(head["std"])
    return float(1 / (1 + np.exp(-(float(np.dot(head["weights"], z)) + head["bias"]))))


def _head_reason(name: str, f: NoiseFeatures, p: float, at: float) -> str:
    said = f"P = {p:.2f} (flagged at {at:.2f})"
    if name == "smoothing_filter":
        return (f"the face's flattest skin carries {np.exp(f.face_floor_vs_background):.2f}x the background's noise, "
                f"image noise {f.noise_global:.2f} grey levels: {said}")
    return (f"face noise {np.exp(f.face_vs_background):.2f}x the background's, residual colour correlation "
            f"{f.colour_corr_face:.2f} in the face vs {f.colour_corr_background:.2f} around it: {said}")


def _compression(f: NoiseFeatures, is_video: bool) -> str | None:
    """What compression the image shows (not a manipulation), or None."""
    if f.blockiness >= COMPRESSION_GRID:
        return f"JPEG-style 8x8 grid {f.blockiness:.2f} (seen from {COMPRESSION_GRID:.2f}: a low quality or a codec)"
    if is_video:
        return "a video codec's compression"
    return None


def _verdict(f: NoiseFeatures, is_video: bool) -> tuple[str, float | None, float, str, list[Flag], dict[str, float]]:
    """(verdict, probability, threshold, reason, flags, head probabilities) from the calibrated heads."""
    compression = _compression(f, is_video)
    x = evidence(f)
    if x is None:
        return ("inconclusive", None, 0.5, "no face large enough to compare with its background was found", [], {})
    width = f.face_box[2] - f.face_box[0]
    if width < MIN_FACE_PX:
        return ("inconclusive", None, 0.5, f"the face is {width} px wide; the check is calibrated on faces of "
                f"{MIN_FACE_PX} px or more (too few noise blocks below that)", [], {})
    probs = {name: round(head_probability(head, x), 4) for name, head in HEADS.items()}
    flags = [Flag(name, probs[name] >= head["threshold"], probs[name],
                  _head_reason(name, f, probs[name], head["threshold"])) for name, head in HEADS.items()]
    top = max(flags, key=lambda fl: fl.strength - HEADS[fl.name]["threshold"])
    at = HEADS[top.name]["threshold"]
    if top.raised and top.name == "smoothing_filter" and f.noise_background < NOISE_GONE:
        top.raised = False
        return ("inconclusive", top.strength, at, f"the face looks smoother than its background ({top.reason}), but "
                f"only {f.noise_background:.2f} grey levels of noise are left around it, so a filter cannot be told "
                "from compression", flags, probs)
    if top.raised:
        return {"smoothing_filter": "smoothed", "splice": "spliced"}[top.name], top.strength, at, top.reason, flags, probs
    if compression:
        return ("compressed", top.strength, at, f"{compression}: compression, not a manipulation; no manipulation "
                f"cue reached its threshold ({top.name}: {top.reason})", flags, probs)
    return "unmodified", top.strength, at, f"no manipulation cue reached its threshold ({top.name}: {top.reason})", \
        flags, probs


def _median_features(per_frame: list[NoiseFeatures]) -> NoiseFeatures:
    """Field-wise median over frames (face fields over the frames that had a face)."""
    out = {}
    for fld in dataclasses.fields(NoiseFeatures):
        values = [getattr(f, fld.name) for f in per_frame if getattr(f, fld.name) is not None]
        if not values or fld.name == "face_box":
            out[fld.name] = values[len(values) // 2] if values else None
        elif fld.name == "block_size":
            out[fld.name] = int(np.median(values))
        else:
            out[fld.name] = float(np.median(values))
    return NoiseFeatures(**out)


def check_manipulation(source: Source, box: tuple[int, int, int, int] | None = None,
                       config: ManipulationConfig = ManipulationConfig()) -> ManipulationReport:
    """Has this face photo or clip been beauty-filtered or spliced, or only compressed?

    Args: source: image or clip file path (or RGB array (H, W, 3) / (T, H, W, 3)); box: the face
    (left, top, right, bottom) if known, else the largest detected face. Returns a report with a verdict
    (unmodified, compressed, smoothed, spliced or inconclusive, with its reason), the calibrated
    probability of the strongest head and the threshold it flags at, each head's flag and the measured
    features. Faces under MIN_FACE_PX, or evidence that compression alone could explain, are inconclusive.
    """
    frames, label = read_frames(source, VideoLimits(work_side=VideoLimits().max_side))
    is_video_file = not isinstance(source, np.ndarray) and Path(source).suffix.lower() in VIDEO_SUFFIXES
    n = min(max(1, config.clip_frames), len(frames))
    picks = sorted(set(np.linspace(0, len(frames) - 1, n).round().astype(int).tolist()))
    warnings: list[str] = []
    per_frame = []
    for i in picks:
        rgb = np.ascontiguousarray(frames[i])
        face = box
        if face is None:
            face, found = main_face(rgb, config.upsample)
            if found > 1 and not warnings:
                warnings.append(f"{found} faces found; checked the largest (the most confident among similar sizes)")
        per_frame.append(noise_features(rgb, face, config))
    feats = _median_features(per_frame)
    if is_video_file:
        warnings.append("video codecs remove noise and leave block grids: judged as frames decoded from H.264 "
                        "(CRF 18-32) were in calibration")
    verdict, probability, threshold, reason, flags, probs = _verdict(feats, is_video_file)
    return ManipulationReport(label, verdict, probability, threshold, reason, flags, feats, probs, len(picks),
                              warnings, VALIDATED_ON)


# --- Controlled manipulations: the fakes the check is evaluated on (benchmarks, tests, demos) ---

MANIPULATIONS = ("bilateral", "guided", "gaussian", "blur_global", "jpeg", "splice")


def face_mask(shape: tuple[int, ...], box: tuple[int, int, int, int], feather: float = 0.08) -> np.ndarray:
    """(H, W, 1) float32 soft ellipse over the skin of the face in `box` (what a beauty filter touches)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    mask = np.zeros(shape[:2], np.float32)
    cv2.ellipse(mask, ((left + right) // 2, (top + bottom) // 2 + int(0.06 * h)), (int(0.44 * w), int(0.56 * h)),
                0, 0, 360, 1.0, -1)
    k = max(3, int(feather * w) | 1)
    return cv2.GaussianBlur(mask, (2 * k + 1, 2 * k + 1), 0)[..., None]


def _blend(rgb: np.ndarray, other: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb * (1 - mask) + other.astype(np.float32) * mask), 0, 255).astype(np.uint8)


def manipulate(rgb: np.ndarray, kind: str, rng: np.random.Generator, box: tuple[int, int, int, int] | None = None,
               strength: float | None = None, donor: np.ndarray | None = None) -> np.ndarray:
    """Apply one controlled manipulation (see MANIPULATIONS) to an RGB face photo.

    strength in [0, 1] picks the parameter within its range (None: random): bilateral d 7-15,
    sigmaColor 30-80, sigmaSpace 5-15; guided radius 4-10, eps 10²-50²; gaussian sigma 1.5-4 (face);
    blur_global sigma 0.8-2; jpeg quality 70-30; splice pastes `donor`'s face (default: the packaged
    Grace Hopper photo) aligned on eyes and mouth, scaled by 0.95-1.05.
    """
    if kind not in MANIPULATIONS:
        raise ConfigError(f"unknown manipulation {kind!r}; choose one of {', '.join(MANIPULATIONS)}")
    s = float(rng.uniform()) if strength is None else float(np.clip(strength, 0, 1))
    pick = lambda lo, hi: lo + s * (hi - lo)  # noqa: E731
    if box is None and kind not in ("blur_global", "jpeg"):
        box, _ = main_face(rgb)
        if box is None:
            raise ConfigError(f"manipulation {kind!r} needs a face and none was found")
    if kind == "bilateral":
        smooth = cv2.bilateralFilter(rgb, round(pick(7, 15)), pick(30, 80), pick(5, 15))
        return _blend(rgb, smooth, face_mask(rgb.shape, box))
    if kind == "guided":
        smooth = cv2.ximgproc.guidedFilter(rgb, rgb, round(pick(4, 10)), pick(10, 50) ** 2)
        return _blend(rgb, smooth, face_mask(rgb.shape, box))
    if kind == "gaussian":
        return _blend(rgb, cv2.GaussianBlur(rgb, (0, 0), pick(1.5, 4)), face_mask(rgb.shape, box))
    if kind == "blur_global":
        return cv2.GaussianBlur(rgb, (0, 0), pick(0.8, 2))
    if kind == "jpeg":
        quality = round(pick(70, 30))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    from deft.data.faces import face_photo

    donor = face_photo("hopper") if donor is None else donor
    donor_box, _ = main_face(donor)
    if donor_box is None:
        raise ConfigError("the splice donor photo has no detectable face")
    anchors = lambda lm: np.array([*eye_centres(lm), lm[48:68].mean(axis=0)], np.float32)  # noqa: E731
    matrix, _ = cv2.estimateAffinePartial2D(anchors(landmarks68(donor, donor_box)), anchors(landmarks68(rgb, box)))
    matrix[:, :2] *= pick(0.95, 1.05)
    pasted = cv2.warpAffine(np.ascontiguousarray(donor), matrix, rgb.shape[1::-1], flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    return _blend(rgb, pasted, face_mask(rgb.shape, box, feather=0.04))
