"""Landmark-anchored facial regions and their motion descriptors.

Sides follow FACS: `left` is the subject's left, which is the image's right. Compass words are
as seen in the image (up = towards the top of the frame). Magnitudes are given in crop pixels and
in inter-ocular distances (IOD), the face-relative unit every threshold uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

LATERAL_SHARE = 0.3  # inward/outward is named only when the sideways part is this share of the motion
COMPASS = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")


@dataclass(frozen=True)
class RegionSpec:
    """A disc: centre = mean of `anchors` (iBUG indices) + `offset` (in IOD, image x/y), radius in IOD."""

    name: str
    anchors: tuple[int, ...]
    offset: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.12
    side: str = "centre"  # "left" | "right" | "centre" (subject's sides)


def _pair(name: str, right_anchors, left_anchors, offset=(0.0, 0.0), radius=0.12) -> tuple[RegionSpec, RegionSpec]:
    """A left/right pair; `offset` is given for the subject's right (image left) and mirrored."""
    dx, dy = offset
    return (
        RegionSpec(f"{name}_right", tuple(right_anchors), (dx, dy), radius, "right"),
        RegionSpec(f"{name}_left", tuple(left_anchors), (-dx, dy), radius, "left"),
    )


REGIONS: tuple[RegionSpec, ...] = (
    *_pair("inner_brow", (20, 21), (23, 22), (0.0, 0.02)),
    *_pair("outer_brow", (17, 18), (26, 25), (0.0, 0.02)),
    RegionSpec("glabella", (21, 22, 27), (0.0, -0.05), 0.10),
    *_pair("upper_eyelid", (37, 38), (44, 43), (0.0, -0.04), 0.09),
    *_pair("lower_eyelid", (40, 41), (47, 46), (0.0, 0.07), 0.09),
    *_pair("cheek", (40, 41, 31, 48), (47, 46, 35, 54), (0.0, 0.0), 0.15),  # infraorbital cheek
    *_pair("nose_wing", (31,), (35,), (-0.06, -0.04), 0.09),
    RegionSpec("upper_lip", (50, 51, 52), (0.0, 0.0), 0.11),
    *_pair("mouth_corner", (48,), (54,), (0.0, 0.0), 0.11),
    RegionSpec("lower_lip", (56, 57, 58), (0.0, 0.0), 0.11),
    RegionSpec("chin", (57, 8, 8), (0.0, -0.02), 0.15),
)
REGION_NAMES = tuple(r.name for r in REGIONS)


@dataclass
class RegionMotion:
    """Measured motion of one region between onset and apex."""

    name: str
    side: str
    centre: tuple[float, float]  # crop pixels
    radius: float  # crop pixels
    dx: float  # mean flow, crop pixels (x right, y down)
    dy: float
    mean_magnitude: float  # mean of per-pixel |flow|, crop pixels
    peak_magnitude: float  # 95th percentile of |flow|, crop pixels
    mean_iod: float  # |mean flow| / IOD
    angle: float  # degrees, 0 = right, 90 = up (image)
    direction: str  # one of COMPASS
    lateral: str | None  # "outward" | "inward" for sided regions
    strain: float  # mean optical strain

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def compass(angle_deg: float) -> str:
    return COMPASS[int(((angle_deg % 360) + 22.5) // 45) % 8]


def region_geometry(spec: RegionSpec, landmarks: np.ndarray, iod: float) -> tuple[np.ndarray, float]:
    centre = landmarks[list(spec.anchors)].mean(axis=0) + np.asarray(spec.offset) * iod
    return centre, spec.radius * iod


def region_windows(shape: tuple[int, int], landmarks: np.ndarray, iod: float) -> list[tuple[slice, slice, np.ndarray]]:
    """Per region (REGIONS order): the rows and columns of a (H, W) crop around its disc and the disc's boolean
    mask within them (a disc off the crop keeps its nearest pixel). Indexing the window and then the disc visits
    the disc's pixels in the order a full-crop mask does, at the cost of the window only."""
    h, w = shape
    out = []
    for spec in REGIONS:
        (cx, cy), r = region_geometry(spec, landmarks, iod)
        # one pixel of margin beyond the disc's bounding box: no pixel outside it can be within r
        x0, x1 = max(int(np.floor(cx - r)) - 1, 0), min(int(np.ceil(cx + r)) + 2, w)
        y0, y1 = max(int(np.floor(cy - r)) - 1, 0), min(int(np.ceil(cy + r)) + 2, h)
        ys, xs = np.mgrid[y0:max(y1, y0), x0:max(x1, x0)]
        disc = (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2
        if not disc.any():
            y0, x0 = int(np.clip(cy, 0, h - 1)), int(np.clip(cx, 0, w - 1))
            y1, x1, disc = y0 + 1, x0 + 1, np.ones((1, 1), bool)
        out.append((slice(y0, y1), slice(x0, x1), disc))
    return out


def describe_regions(flow: np.ndarray, strain: np.ndarray, landmarks: np.ndarray, iod: float) -> list[RegionMotion]:
    """Per-region descriptors of a (head-motion-free) flow field (H, W, 2)."""
    out = []
    for spec, (rows, cols, disc) in zip(REGIONS, region_windows(flow.shape[:2], landmarks, iod)):
        (cx, cy), radius = region_geometry(spec, landmarks, iod)
        vectors = flow[rows, cols][disc]
        dx, dy = vectors.mean(axis=0)
        mags = np.linalg.norm(vectors, axis=-1)
        angle = float(np.degrees(np.arctan2(-dy, dx)))
        lateral = None
        if spec.side != "centre" and abs(dx) >= LATERAL_SHARE * np.hypot(dx, dy):
            away = dx < 0 if spec.side == "right" else dx > 0
            lateral = "outward" if away else "inward"
        out.append(
            RegionMotion(
                spec.name, spec.side, (float(cx), float(cy)), float(radius), float(dx), float(dy),
                float(mags.mean()), float(np.percentile(mags, 95)), float(np.hypot(dx, dy) / iod),
                angle, compass(angle), lateral, float(strain[rows, cols][disc].mean()),
            )
        )
    return out
