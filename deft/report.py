"""Human-readable rendering of an Analysis: the table `deft analyze` prints without --json."""

from __future__ import annotations

from deft.analyze import Analysis


def format_table(result: Analysis) -> str:
    ph, limits = result.phases, result.sensitivity
    lines = [
        f"{result.source}: {result.n_frames} frames at {result.fps:.1f} fps, flow {result.flow_method}",
        f"phases ({ph.source}{', its runner-up peak' if ph.rank else ''}): onset {ph.onset}, apex {ph.apex}, "
        f"offset {ph.offset}"
        + ("" if result.aus else " (where an expression most likely peaked; no expression AU was found there)"),
        f"emotion: {result.emotion.describe()}"
        + (f" from {' + '.join(result.emotion.matched)}" if result.emotion.matched else ""),
        "reliable: yes" if result.reliable else f"reliable: no ({result.reliable_reason})",
        *([f"inconclusive: {limits.reason}"] if limits is not None and limits.inconclusive else []),
        "",
    ]
    if result.aus:
        lines.append(f"{'AU':<6}{'name':<22}{'conf':>6}{'from':>6}{'IOD':>10}  side    evidence")
        for a in result.aus:
            lines.append(f"{a.au:<6}{a.name:<22}{a.confidence:>6.2f}{a.threshold:>6.2f}{a.strength_iod:>10.4f}  {a.side:<7} "
                         f"{', '.join(a.evidence)}")
    else:
        lines.append("no Action Unit: no facial region moved beyond the noise threshold (or none reached its AU's decision threshold)"
                     if limits is None else "no Action Unit reached its decision threshold (least motion each needed: below)")
        if result.ordinary is not None and result.ordinary.stated():
            lines[-1] += "; the AUs of ordinary motion are listed apart, below"
    if limits is not None and limits.limits:
        least = sorted(limits.limits.items(), key=lambda kv: kv[1])
        lines.append(f"least motion an AU needed here to be reported (IOD as deft measures it, typically "
                     f"{limits.measured_share:.2f} of an AU's own amplitude in this video): " + ", ".join(
            f"{au} {v:.3f}" if v != float("inf") else f"{au} {'unseen (frozen)' if au in limits.unseen else 'none would do'}"
            for au, v in least))
    if result.ordinary is not None and result.ordinary.events:
        lines += ["", "ordinary motion (not an expression): " + "; ".join(
            f"{e.said_kind()}{'' if e.side == 'both' else f' ({e.side})'} {e.onset}-{e.offset} {e.said_aus()}"
            + (" (unsure, see warnings)" if e.unsure else "")
            for e in result.ordinary.events)]
    lines += ["", _region_units(result), f"{'region':<20}{'mean px':>8}{'peak px':>8}{'net IOD':>8}  direction"]
    for r in sorted(result.regions, key=lambda r: -r.mean_iod):
        lateral = f", {r.lateral}" if r.lateral else ""
        lines.append(f"{r.name:<20}{r.mean_magnitude:>8.2f}{r.peak_magnitude:>8.2f}{r.mean_iod:>8.4f}  {r.direction}{lateral}")
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _region_units(result: Analysis) -> str:
    """What the region table's numbers are: crop pixels (not the video's) and net motion over the eye distance."""
    video = f", {result.quality.iod_px:.1f} in the video" if result.quality is not None else ""
    return (f"region motion, reference -> apex: |flow| in pixels of the face crop (eyes {result.iod:.1f} px apart "
            f"there{video}); net IOD: the region's mean motion / that distance")


def one_line(result: Analysis, frames: list[int] | None = None) -> str:
    """The demo's summary of a clip: emotion, phases, how many AUs, and whether the reading can be trusted.
    `frames`: the number shown for each of the clip's frames (a long video's interval: the video's own)."""
    ph, limits = result.phases, result.sensitivity
    at = (lambda k: k) if frames is None else frames.__getitem__  # noqa: E731
    return (f"**{result.emotion.describe()}** · onset {at(ph.onset)}, apex {at(ph.apex)}, offset {at(ph.offset)}"
            f" · {len(result.aus)} AU(s)"
            + ("" if result.reliable else f" · not reliable: {result.reliable_reason}")
            + (f" · inconclusive: {limits.reason}" if limits is not None and limits.inconclusive else ""))
