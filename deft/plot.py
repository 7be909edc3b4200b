"""Draw what deft measured: apex frame, flow field, AU regions, and the motion curve with phases."""

from __future__ import annotations

import os

import numpy as np

from deft.analyze import Analysis


ARROW_STEP = 12  # crop pixels between flow arrows


def plot_analysis(result: Analysis, path: str | os.PathLike) -> None:
    """Save a PNG: left, the apex crop with flow arrows and AU regions; right, motion over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    face, flow, ph = result.face, result.flow, result.phases
    fig, (ax, ax_curve) = plt.subplots(1, 2, figsize=(11, 5.2), gridspec_kw={"width_ratios": [1, 1.1]})
    ax.imshow(face.crops[ph.apex])
    fired_regions = {r for a in result.aus for r in a.evidence}
    for region in result.regions:
        colour = "#ff3b30" if region.name in fired_regions else "#ffffff"
        ax.add_patch(plt.Circle(region.centre, region.radius, fill=False, color=colour, lw=1.2 if colour == "#ffffff" else 2))
    s = flow.shape[0]
    ys, xs = np.mgrid[ARROW_STEP // 2 : s : ARROW_STEP, ARROW_STEP // 2 : s : ARROW_STEP]
    u, v = flow[ys, xs, 0], flow[ys, xs, 1]
    scale = max(float(np.percentile(np.hypot(u, v), 99)), 0.2) / ARROW_STEP  # longest arrows span a grid cell
    ax.quiver(xs, ys, u, v, color="#ffd60a", angles="xy", scale_units="xy", scale=scale, width=0.004)
    labels = ", ".join(a.au for a in result.aus) or "no AU"
    ax.set_title(f"apex frame {ph.apex}: {labels}\nflow onset->apex drawn x{1 / scale:.1f}, red = AU evidence")
    ax.axis("off")
    curve = np.asarray(ph.curve)
    ax_curve.plot(curve, color="#0a84ff", lw=2)
    for name, idx, colour in (("onset", ph.onset, "#34c759"), ("apex", ph.apex, "#ff3b30"), ("offset", ph.offset, "#8e8e93")):
        ax_curve.axvline(idx, color=colour, ls="--", label=f"{name} {idx}")
    ax_curve.set_xlabel("frame")
    ax_curve.set_ylabel("facial motion vs frame 0 (IOD)")
    ax_curve.set_title(f"emotion: {result.emotion.describe()}")
    ax_curve.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    plt.close(fig)



