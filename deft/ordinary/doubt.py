"""Which eyelid events deft cannot tell from a head turn: found, kept, but not stated as an AU.

A turned or nodding head changes how the eye looks and how far apart dlib puts its lids: the closure score
(eyes.py) rises as if a lid closed, and the lid gap grows on a nod as if the eyes widened; on the dev pose sets
(turning heads, no eyelid event rendered) most clips got one (benchmarks/README, "Eyelid events deft cannot tell
from a head turn"). An event stays in `Ordinary.events` (expression spotting and the calibrated confidences were
fitted with it there) but is marked `unsure`, with the reason, and is not stated as an AU, when:
- the head's yaw or pitch during it is more than a 2D alignment undoes away from its pose in the frames it is
  compared with (the open eye's window for a lid, the frames outside closures for a widening), unless for a lid
  the head kept within that of its pose in the frames just before and after it and the eye's look departed from
  both of theirs as a closing lid's does (eyes.flank_departure: a turn moves the look from one side's to the
  other's; on the dev `all` sets most blinks and winks during continuous head moves were doubted for the turn);
- a closing lid: the eye's look changed no more than the eye shifting by a pixel explains (eyes.py, SHIFT_PX), unless
  it is a blink during which dlib's lid gaps both dipped (eyelids.lid_dips, EyelidConfig.dip_iod; dlib moves both
  lids in a wink too, so a dip cannot say that one eye closed), or a wink during which the other eye's look held
  for a few frames (a turn or a nod moves both eyes' look alike; DoubtConfig.other_still);
- a widening: it runs to the clip's first or last frame (a level, not a rise and fall: most invented widenings
  did, no real one), or the lid gap rose less than `widen_iod` once the nod's own effect is taken out, or less
  than `widen_px` source pixels (dlib's lid points jitter about half a pixel, so on a small face a rise above
  `widen_iod` can still be the points' own noise: as MouthConfig.syllable_px for the lips).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from deft.ordinary.eyes import flank_departure, reference_windows
from deft.ordinary.result import OrdinaryEvent
from deft.tracking.quality import MAX_OUT_OF_PLANE_DEG, POSE_NOISE_DEG

LID_KINDS = ("blink", "wink", "closed")


@dataclass(frozen=True)
class DoubtConfig:
    """Chosen on the seed-shifted dev sets (pose, blinks, all at +777 and +1777; benchmarks/README)."""

    turn_deg: float = MAX_OUT_OF_PLANE_DEG + POSE_NOISE_DEG  # ~7.9°, as deft.reliability's head-turn limit
    closed: float = 0.13  # shift-tolerant closure score a closing eye reaches (0.16 unshifted: EyelidConfig.closed)
    # Lid gap (IOD) per degree of pitch: least squares over every frame of the dev pose clips (no eyelid event there).
    nod_iod_per_deg: float = -0.001
    widen_iod: float = 0.015  # lid gap rise over the frames outside closures, the nod taken out
    # ... and in source pixels (dev +777/+1777 `all`, pose, blinks, lowres: of the 21 widenings stated before, 5 no
    # AU5 moved in rose 0.42-0.63 px, the 11 true ones 0.69 px and more)
    widen_px: float = 0.65
    flank_s: float = 0.15  # the frames just before and after a lid event (eyes.flank_departure)
    flank_closed: float = 0.15  # departure from both flanks' look a lid closed under a turning head reaches
    # A wink's other eye: its shift-tolerant closure score stays under this while the wink runs this many frames
    # (the dev winks doubted for a shift: .011-.035 over 4-9 frames; the false ones were 2-frame blips).
    other_still: float = 0.04
    still_frames: int = 3


def _turn(pose: dict[str, np.ndarray] | None, frames: slice, reference: np.ndarray) -> float:
    """Largest |yaw| or |pitch| difference (degrees) of `frames` from the median of the `reference` frames."""
    if pose is None:
        return 0.0
    out = 0.0
    for name in ("yaw", "pitch"):
        angle = pose[name]
        ref = angle[reference][np.isfinite(angle[reference])]
        during = angle[frames][np.isfinite(angle[frames])]
        if len(ref) and len(during):
            out = max(out, float(np.abs(during - np.median(ref)).max()))
    return out


def _flank_turn(e: OrdinaryEvent, pose: dict[str, np.ndarray] | None, patches: dict[str, np.ndarray], flank: int,
                config: DoubtConfig) -> float:
    """The head's turn during lid event `e` from its pose in the `flank` frames each side, where the closing eye's
    look departs from both sides' as a lid's does (DoubtConfig.flank_closed); else infinite (not judged so)."""
    sides = ("right", "left") if e.side == "both" else (e.side,)
    if max(flank_departure(patches[s], (e.onset, e.offset), flank) for s in sides) < config.flank_closed:
        return float("inf")
    n = len(next(iter(patches.values())))
    near = np.zeros(n, bool)
    near[max(0, e.onset - flank):e.onset] = near[e.offset + 1:e.offset + 1 + flank] = True
    return _turn(pose, slice(e.onset, e.offset + 1), near)


def _other_still(e: OrdinaryEvent, shifted: dict[str, np.ndarray], config: DoubtConfig) -> bool:
    """A wink of at least `still_frames` frames during which the other eye's shift-tolerant closure score stayed
    under `other_still`: no turn or nod moved its look, so none moved the closing eye's."""
    if e.kind != "wink" or e.offset - e.onset + 1 < config.still_frames:
        return False
    other = "left" if e.side == "right" else "right"
    return float(shifted[other][e.onset:e.offset + 1].max()) < config.other_still


def relative_pitch(pose: dict[str, np.ndarray] | None, n: int) -> np.ndarray:
    """(n,) pitch in degrees from the clip's median (0 where unmeasured, or everywhere without a pose)."""
    if pose is None or not np.isfinite(pose["pitch"]).any():
        return np.zeros(n)
    return np.nan_to_num(pose["pitch"] - np.nanmedian(pose["pitch"]))


def doubt(events: list[OrdinaryEvent], shifted: dict[str, np.ndarray], gap: np.ndarray,
          pose: dict[str, np.ndarray] | None, half_window: int, config: DoubtConfig = DoubtConfig(),
          dipped: np.ndarray | None = None, patches: dict[str, np.ndarray] | None = None,
          flank: int = 0, iod_px: float | None = None) -> list[OrdinaryEvent]:
    """`events` with every eyelid event deft cannot tell from a head turn marked `unsure` (its reason).

    `shifted`: per eye the shift-tolerant closure score; `gap`: (T,) both eyes' mean lid gap (IOD); `pose`:
    per-frame yaw/pitch in degrees (None: not measured, no turn check); `half_window`: the open eye's (eyes.py);
    `dipped`: (T,) bool, frames where both lid gaps dipped as lids meeting do (eyelids.lid_dips; None: not measured);
    `patches`: per eye its patches with their margin (eyes.closure_scores) and `flank` the frames each side of a lid
    event its look is compared with (None / 0: the window's pose alone judges a turn).
    """
    n = len(gap)
    windows = reference_windows(np.arange(n), half_window)
    still = np.ones(n, bool)
    for e in events:
        if e.kind in LID_KINDS:
            still[e.onset:e.offset + 1] = False
    level = gap - config.nod_iod_per_deg * relative_pitch(pose, n)
    out = []
    for e in events:
        span = slice(e.onset, e.offset + 1)
        if e.kind in LID_KINDS:
            first, last = windows[e.apex]
            reference = np.zeros(n, bool)
            reference[first:last + 1] = True
        elif e.kind == "widen" and still.sum() >= 3:
            reference = still
        else:
            out.append(e)
            continue
        reason = ""
        turned = _turn(pose, span, reference)
        if turned > config.turn_deg and e.kind in LID_KINDS and patches is not None and flank > 0:
            turned = min(turned, _flank_turn(e, pose, patches, flank, config))
        if turned > config.turn_deg:
            reason = (f"the head was turned {turned:.0f}° from its pose in the frames the eye is compared with "
                      f"(more than ~{config.turn_deg:.0f}°)")
        elif e.kind in LID_KINDS:
            sides = ("right", "left") if e.side == "both" else (e.side,)
            confirmed = e.kind == "blink" and dipped is not None and bool(dipped[span].any())  # both lids met
            confirmed = confirmed or _other_still(e, shifted, config)
            if max(float(shifted[s][span].max()) for s in sides) < config.closed and not confirmed:
                reason = "the eye's look changed no more than the eye shifting by a pixel explains (a turn or a nod)"
        elif e.onset == 0 or e.offset == n - 1:
            reason = "it runs to the clip's edge, so the lids are not seen rising and settling, only wider than elsewhere"
        else:
            rise = float((level[span] - np.median(level[still])).max())
            if rise < config.widen_iod:
                reason = f"the lid gap rose {rise:.4f} IOD once the head's nod is taken out (under {config.widen_iod})"
            elif iod_px is not None and rise * iod_px < config.widen_px:
                reason = (f"deft cannot tell it from the lid points' own jitter: the lid gap rose {rise * iod_px:.2f} px "
                          f"on this face (under {config.widen_px} px)")
        out.append(replace(e, unsure=reason) if reason else e)
    return out
