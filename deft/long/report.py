"""Human-readable rendering of a LongAnalysis: what `deft analyze LONG.mp4` prints without --json."""

from __future__ import annotations

from deft.labels import said_emotion
from deft.long.series import LongAnalysis


def _interval_line(iv: dict, fps: float) -> str:
    span = f"{iv['onset']}-{iv['offset']} ({iv['onset'] / fps:.2f}-{iv['offset'] / fps:.2f} s, apex {iv['apex']})"
    if "error" in iv:
        return f"  {span:<42}{iv['kind']:<7}not analysed: {iv['error']}"
    aus = " ".join(a["au"] for a in iv.get("aus", [])) or "no AU"
    return f"  {span:<42}{iv['kind']:<7}{aus:<22}{said_emotion(iv.get('emotion'))}" + "".join(
        f"; {note}" for note in interval_notes(iv))


def interval_notes(iv: dict) -> list[str]:
    """What else a reader of an interval's line must know: the ordinary motion the clip analysis found in it
    (a spotted "micro" may be a blink) and why its reading cannot be trusted."""
    ordinary = [f"{e['kind']} {'+'.join(e['aus'])} {e['onset']}-{e['offset']}" + (" (unsure)" if e["unsure"] else "")
                for e in iv.get("ordinary", [])]
    return ([f"ordinary motion: {', '.join(ordinary)}"] if ordinary else []) + (
        [f"not reliable: {iv['reliable_reason']}"] if iv.get("reliable") is False else [])


def format_long(result: LongAnalysis) -> str:
    lines = [f"{result.source}: {result.n_frames} frames at {result.fps:.1f} fps, {result.width}x{result.height}, "
             f"{len(result.faces)} face(s)"]
    for face in result.faces:
        intervals = result.intervals.get(face.face_id, [])
        lines.append(f"face {face.face_id}: frames {face.first}-{face.last}, {len(intervals)} interval(s)")
        lines += [_interval_line(iv, result.fps) for iv in intervals]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)
