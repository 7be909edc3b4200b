"""Unmodified face images saved the way people send them: what the manipulation check is calibrated on.

A view is one frame of a realistic world clip (deft.data.world: an identity, a pose, lighting, a
camera's noise and size) or a crop of a shipped real photo, saved one way: camera JPEG at quality
60-95, PNG, a frame decoded from H.264 at CRF 18-32, or a small portrait (112-160 px, then JPEG or
PNG). Identities and seeds are split in two: "calibration" sets thresholds, "held_apart" measures.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace

import cv2
import numpy as np

from deft.errors import ConfigError

SAVES = ("jpeg", "png", "h264", "small")
SPLITS = {  # world identities (both shipped photos sit behind each, mirrored, reshaped or relit)
    "calibration": ("astronaut", "hopper-mirror", "astronaut-broad", "hopper-sidelit", "astronaut-mirror-long-warm"),
    "held_apart": ("hopper", "astronaut-mirror", "hopper-long", "astronaut-dark", "hopper-mirror-broad-dark"),
}
SPLIT_SEEDS = {"calibration": 7100, "held_apart": 7200}
CLIP_FRAMES = 10


@dataclass
class SentImage:
    """One unmodified view and how it was made; `raw` is the frame before saving (manipulations start there)."""

    rgb: np.ndarray
    raw: np.ndarray
    source: str  # identity name or "photo:<name>"
    save: str  # one of SAVES
    detail: str  # e.g. "q72", "crf27", "128px q80"


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at `quality` (OpenCV / libjpeg, 4:2:0 chroma)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ConfigError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def h264_frame(frames: np.ndarray, crf: int, index: int) -> np.ndarray:
    """Frame `index` of `frames` (T, H, W, 3) after an H.264 round trip at `crf`."""
    from deft.data.world.camera import write_mp4
    from deft.data.world.track import Camera
    from deft.video import read_video

    h, w = frames.shape[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        write_mp4(path, [frames], Camera(width=w, height=h, crf=int(crf)))
        return read_video(path).frames[index].copy()


def small_portrait(rgb: np.ndarray, side: int) -> np.ndarray:
    """The central square resized to `side` px (INTER_AREA), as a profile picture or a call tile."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return cv2.resize(rgb[top:top + s, left:left + s], (side, side), interpolation=cv2.INTER_AREA)


def save_like_people(raw: np.ndarray, save: str, rng: np.random.Generator,
                     clip: np.ndarray | None = None, index: int = 0) -> tuple[np.ndarray, str]:
    """(saved view, detail): `raw` saved one of the SAVES ways; h264 encodes `clip` (raw as frame `index`)."""
    if save == "jpeg":
        q = int(rng.integers(60, 96))
        return jpeg(raw, q), f"q{q}"
    if save == "png":
        return raw.copy(), "png"
    if save == "h264":
        crf = int(rng.integers(18, 33))
        frames = np.stack([raw] * 3) if clip is None else clip.copy()
        frames[index] = raw
        return h264_frame(frames, crf, index), f"crf{crf}"
    if save == "small":
        side = int(rng.integers(112, 161))
        view = small_portrait(raw, side)
        if rng.random() < 0.5:
            return view, f"{side}px png"
        q = int(rng.integers(60, 96))
        return jpeg(view, q), f"{side}px q{q}"
    raise ConfigError(f"unknown save {save!r}; choose one of {', '.join(SAVES)}")


def _world_frames(identity: str, rng: np.random.Generator, seed: int) -> np.ndarray:
    from deft.data.world.clips import WorldClipSpec, render_clip
    from deft.data.world.track import Camera

    side = int(rng.choice([256, 320, 384]))
    camera = Camera(width=side, height=side, iod_px=round(float(rng.uniform(0.17, 0.3) * side), 1),
                    noise=round(float(rng.uniform(0.8, 3.5)), 2), light_drift=round(float(rng.uniform(-0.2, 0.2)), 2))
    distractors = ("head",) if rng.random() < 0.6 else ()
    return render_clip(WorldClipSpec(identity=identity, n_frames=CLIP_FRAMES, camera=camera,
                                     distractors=distractors, emotion=None, seed=seed)).frames


def _photo_crop(name: str, rng: np.random.Generator) -> np.ndarray:
    """A random scale (0.5-1) and square crop of a shipped real photo, around its face."""
    from deft.data.faces import face_photo
    from deft.tools.manipulation import main_face

    img = np.array(face_photo(name))
    scale = float(rng.uniform(0.5, 1.0))
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    left, top, right, bottom = main_face(img)[0]
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.7, 1.0)) // 2 * 2
    x0 = int(rng.integers(max(0, right - side), max(0, min(left, w - side)) + 1))
    y0 = int(rng.integers(max(0, bottom - side), max(0, min(top, h - side)) + 1))
    return img[y0:y0 + side, x0:x0 + side].copy()


def sent_images(split: str, n: int, photo_share: float = 0.2) -> list[SentImage]:
    """`n` unmodified views of `split`'s identities (a `photo_share` of crops of the real photos), saves cycled."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    rng = np.random.default_rng(SPLIT_SEEDS[split])
    identities = SPLITS[split]
    out = []
    for i in range(n):
        save = SAVES[i % len(SAVES)]
        if rng.random() < photo_share:
            name = ("astronaut", "hopper")[int(rng.integers(2))]
            raw = _photo_crop(name, rng)
            view, detail = save_like_people(raw, save, rng)
            out.append(SentImage(view, raw, f"photo:{name}", save, detail))
            continue
        identity = identities[i % len(identities)]
        clip = _world_frames(identity, rng, SPLIT_SEEDS[split] * 100 + i)
        index = int(rng.integers(2, CLIP_FRAMES - 2))
        view, detail = save_like_people(clip[index], save, rng, clip, index)
        out.append(SentImage(view, clip[index].copy(), identity, save, detail))
    return out


def resend(image: SentImage, raw: np.ndarray, rng: np.random.Generator) -> SentImage:
    """`raw` (e.g. a manipulated copy of image.raw) saved the same way as `image` (H.264: a still clip)."""
    view, detail = save_like_people(raw, image.save, rng)
    return replace(image, rgb=view, raw=raw, detail=detail)


MANIPULATED = ("bilateral", "guided", "gaussian", "blur_global", "splice")  # beauty filters and a pasted face
HEAVY_JPEG = "jpeg"  # quality 30-70 from the frame: compression, not a manipulation


def labelled_views(split: str, n: int) -> list[dict[str, SentImage]]:
    """Per unmodified view: {"clean": it, kind: the frame manipulated then saved the same way, ...,
    "jpeg": the frame at JPEG quality 30-70}; splice donors are the other shipped photo."""
    from deft.data.faces import face_photo
    from deft.tools.manipulation import main_face, manipulate

    rng = np.random.default_rng({"calibration": 5, "held_apart": 6}[split])
    donors = {k: np.array(face_photo(k)) for k in ("astronaut", "hopper")}
    rows = []
    for image in sent_images(split, n):
        box, _ = main_face(image.raw)
        views = {"clean": image}
        for kind in (*MANIPULATED, HEAVY_JPEG):
            if box is None and kind not in ("blur_global", HEAVY_JPEG):
                continue
            donor = donors["astronaut" if "hopper" in image.source else "hopper"]
            raw = manipulate(image.raw, kind, rng, box=box, donor=donor)
            views[kind] = (replace(image, rgb=raw, raw=raw, save="jpeg", detail="heavy") if kind == HEAVY_JPEG
                           else resend(image, raw, rng))
        rows.append(views)
    return rows
