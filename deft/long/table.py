"""The per-frame time series of a long video as a table: one row per analysed frame per face, in the
shape pandas users know from py-feat's Fex and OpenFace's CSV; written as .csv or .parquet.

Columns: frame, time_s, face_id, tracked, quality; box_x0..box_y1 and iod_px (source px, from the smoothed
landmarks); yaw, pitch, roll (degrees); `<region>_dx`, `<region>_dy`: the region's motion against `lag`
frames before, in IOD, head motion removed; `interval` (index among the face's intervals, -1 outside),
`interval_kind`; one column per AU of deft.labels.DETECTED_AUS: its confidence in the analysed interval
covering the frame (deft's AU rules read onset->apex motion, so a frame has AUs only inside an interval;
0 outside).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deft.errors import ConfigError
from deft.labels import DETECTED_AUS
from deft.long.series import FaceSeries, LongAnalysis
from deft.motion.regions import REGION_NAMES

TABLE_SUFFIXES = (".csv", ".parquet")
COLUMNS = ("frame", "time_s", "face_id", "tracked", "quality", "box_x0", "box_y0", "box_x1", "box_y1", "iod_px",
           "yaw", "pitch", "roll", *(f"{r}_{c}" for r in REGION_NAMES for c in ("dx", "dy")), "interval",
           "interval_kind", *DETECTED_AUS)


def _face_columns(face: FaceSeries, fps: float, intervals: list[dict]) -> dict[str, np.ndarray]:
    n = len(face.frames)
    lm = face.landmarks
    tracked = np.isfinite(lm).all(axis=(1, 2))
    lo, hi = np.full((n, 2), np.nan), np.full((n, 2), np.nan)
    lo[tracked], hi[tracked] = lm[tracked].min(axis=1), lm[tracked].max(axis=1)
    cols: dict[str, np.ndarray] = {
        "frame": face.frames.astype(np.int64), "time_s": np.round(face.frames / fps, 4),
        "face_id": np.full(n, face.face_id, np.int64), "tracked": tracked, "quality": np.round(face.quality, 3),
        "box_x0": lo[:, 0], "box_y0": lo[:, 1], "box_x1": hi[:, 0], "box_y1": hi[:, 1], "iod_px": face.iod,
        "yaw": face.pose[:, 0], "pitch": face.pose[:, 1], "roll": face.pose[:, 2],
    }
    for k, name in enumerate(REGION_NAMES):
        cols[f"{name}_dx"], cols[f"{name}_dy"] = face.motion[:, k, 0], face.motion[:, k, 1]
    which = np.full(n, -1, np.int64)
    kind = np.full(n, "", object)
    aus = {au: np.zeros(n) for au in DETECTED_AUS}
    for i, iv in enumerate(intervals):
        inside = (face.frames >= iv["onset"]) & (face.frames <= iv["offset"])
        which[inside], kind[inside] = i, iv["kind"]
        for a in iv.get("aus", []):
            if a["au"] in aus:
                aus[a["au"]][inside] = a["confidence"]
    return {**cols, "interval": which, "interval_kind": kind, **aus}


def frame_table(analysis: LongAnalysis):
    """A pandas DataFrame: one row per analysed frame per face (frames where the face was lost included,
    `tracked` False and NaN measurements), faces one after another, frames ascending."""
    import pandas as pd

    parts = [pd.DataFrame(_face_columns(f, analysis.fps, analysis.intervals.get(f.face_id, [])))
             for f in analysis.faces]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))


def check_table_path(path: str | os.PathLike) -> str:
    """The table format of `path` by its suffix (".csv" | ".parquet"); ConfigError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ConfigError(f"{path}: the table is written as .csv or .parquet, not {suffix or 'no suffix'}")
    return suffix


def write_table(analysis: LongAnalysis, path: str | os.PathLike) -> int:
    """Write the frame table as .csv or .parquet (by suffix); returns the number of rows."""
    suffix = check_table_path(path)
    table = frame_table(analysis)
    if suffix == ".csv":
        table.to_csv(path, index=False, float_format="%.5g")
    else:
        table.to_parquet(path, index=False)
    return len(table)
