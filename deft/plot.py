"""Draw what deft measured: apex frame, region motion where it was measured, and the motion curve with phases."""

from __future__ import annotations

import os
import textwrap

import numpy as np

from deft.analyze import Analysis
from deft.face import eye_centres
from deft.motion.phases import smooth_curve
from deft.motion.regions import REGIONS, region_geometry


def regions_on_crop(result: Analysis, frame: int) -> list[tuple[np.ndarray, float]]:
    """(centre, radius) of every region on `frame` of the clip's crops, where its motion was measured.

    Registered (the default), every crop is warped onto the reference face, so the face sits where the regions
    were measured: they are drawn there. With one alignment per clip (`--register none`) the face moves in the
    crop, so the regions are placed by that frame's own tracked landmarks; where the face was lost on that
    frame, they stay where the motion was measured.
    """
    measured = [(np.asarray(r.centre), r.radius) for r in result.regions]
    lm = result.tracked.landmarks[frame] if result.tracked is not None else None
    if result.registration is not None or lm is None or np.isnan(lm).any():
        return measured
    t = result.face.transform
    crop_lm = lm @ t[:2, :2].T + t[:, 2]
    iod = float(np.linalg.norm(np.subtract(*eye_centres(crop_lm))))
    return [region_geometry(spec, crop_lm, iod) for spec in REGIONS]


def curve_title(result: Analysis) -> str:
    """The curve panel's title: the emotion as deft can state it ("cannot tell" where no AU was found but one
    may have been missed), and what the spotted apex is when no expression AU fired there."""
    title = textwrap.fill(f"emotion: {result.emotion.describe()}", 70)
    return title + ("" if result.aus else "\nphases: where an expression most likely peaked; no expression AU was found there")


def plot_analysis(result: Analysis, path: str | os.PathLike, frames: list[int] | None = None) -> None:
    """Save a PNG: left, the apex crop with each region's motion where it was measured; right, motion over time.
    `frames`: the number shown for each of the clip's frames (a long video's interval: the video's own)."""
    import matplotlib.pyplot as plt

    fig = draw_analysis(result, frames)
    fig.savefig(os.fspath(path), dpi=110)
    plt.close(fig)


def draw_analysis(result: Analysis, frames: list[int] | None = None):
    """The plot's matplotlib Figure (Agg backend); the caller closes it. `frames` as in `plot_analysis`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ph = result.phases
    at = list(frames) if frames is not None else list(range(len(ph.curve)))  # the frame number shown per clip frame
    fig, (ax, ax_curve) = plt.subplots(1, 2, figsize=(11, 5.2), gridspec_kw={"width_ratios": [1, 1.1]})
    ax.imshow(result.face.crops[ph.apex])
    fired_regions = {r for a in result.aus for r in a.evidence}
    placed = regions_on_crop(result, ph.apex)
    longest = max([np.hypot(r.dx, r.dy) for r in result.regions] + [0.2])
    scale = min(radius for _, radius in placed) / longest  # the strongest region's arrow spans a small disc's radius
    for region, (centre, radius) in zip(result.regions, placed):
        red = region.name in fired_regions
        colour = "#ff3b30" if red else "#ffffff"
        ax.add_patch(plt.Circle(centre, radius, fill=False, color=colour, lw=2 if red else 1.2))
        ax.arrow(centre[0], centre[1], region.dx * scale, region.dy * scale, color="#ffd60a", width=0.6,
                 head_width=3, length_includes_head=True)
    inconclusive = result.sensitivity is not None and result.sensitivity.inconclusive
    labels = ", ".join(f"{a.au} {a.confidence:.2f}" for a in result.aus) or ("no AU (inconclusive)" if inconclusive else "no AU")
    trust = "reliable" if result.reliable else f"NOT reliable: {result.reliable_reason}"
    reference = result.registration.reference if result.registration is not None else ph.onset
    start = "onset" if reference == ph.onset else f"frame {at[reference]}"
    ax.set_title(f"apex frame {at[ph.apex]}: {labels}\nregion motion {start}->apex x{scale:.1f}, red = AU evidence",
                 fontsize=9)
    ax.set_xlabel(textwrap.fill(trust, 80), fontsize=8, color="#1c1c1e" if result.reliable else "#ff3b30")
    ax.set_xticks([])
    ax.set_yticks([])
    curve = smooth_curve(np.asarray(ph.curve))
    x = at[: len(curve)]
    ax_curve.plot(x, ph.curve, color="#0a84ff", lw=1, alpha=0.4, label="measured")
    ax_curve.plot(x, curve, color="#0a84ff", lw=2, label="smoothed (spotted on)")
    for name, idx, colour in (("onset", ph.onset, "#34c759"), ("apex", ph.apex, "#ff3b30"), ("offset", ph.offset, "#8e8e93")):
        ax_curve.axvline(at[idx], color=colour, ls="--", label=f"{name} {at[idx]}")
    ax_curve.plot([at[ph.apex]], [curve[ph.apex]], "o", color="#ff3b30", ms=8)  # spotted: the smoothed curve's peak
    ax_curve.set_xlabel("frame" if frames is None else "frame (the video's)")
    ax_curve.set_ylabel("facial motion vs frame 0 (IOD)")
    ax_curve.set_title(curve_title(result), fontsize=9)
    # below the panel, never over the curve
    ax_curve.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
