"""Human-readable rendering of a LongAnalysis: what `deft analyze LONG.mp4` prints without --json."""

from __future__ import annotations

from deft.labels import said_emotion
from deft.long.series import LongAnalysis


def _interval_line(iv: dict, fps: float) -> str:
    span = f"{iv['onset']}-{iv['offset']} ({iv['onset'] / fps:.2f}-{iv['offset'] / fps:.2f} s, apex {iv['apex']})"
    if "error" in iv:
        return f"  {span:<42}{iv['kind']:<7}not analysed: {iv['error']}"
    aus = " ".join(a["au"] for a in iv.get("aus", [])) or "no AU"
    return f"  {span:<42}{iv['kind']:<7}{aus:<22}{said_emotion(iv.get('emotion'))}"


def format_long(result: LongAnalysis) -> str:
    lines = [f"{result.source}: {result.n_frames} frames at {result.fps:.1f} fps, {result.width}x{result.height}, "
             f"{len(result.faces)} face(s)"]
    for face in result.faces:
        intervals = result.intervals.get(face.face_id, [])
        lines.append(f"face {face.face_id}: frames {face.first}-{face.last}, {len(intervals)} interval(s)")
        lines += [_interval_line(iv, result.fps) for iv in intervals]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)
