"""A plain folder of clips plus one CSV: path,subject,onset,apex,offset,aus,emotion.

`path` is a video file or a frame folder, relative to the CSV's folder (or absolute). onset, apex
and offset are 0-based frame indices for a video and frame-file numbers for a frame folder (as in
the datasets); blank means unlabelled. `aus` reads like the datasets' ("AU6+AU12", "4+L10"),
`emotion` is any label: composite classes follow deft.labels.MEGC2019["folder"].
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from deft.data.records import (
    ClipRecord, DatasetError, LoadedClips, check_phases, parse_aus, parse_frame, read_table, text,
)
from deft.labels import megc_class

COLUMNS = {"path": ("path", "file", "clip"), "subject": ("subject",), "emotion": ("emotion", "label")}
OPTIONAL = {"onset": ("onset",), "apex": ("apex",), "offset": ("offset",), "aus": ("aus", "au", "action units")}


def _csv(root: Path) -> Path:
    if root.is_file():
        return root
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder or CSV file")
    found = sorted(root.glob("*.csv"))
    if len(found) != 1:
        raise DatasetError(f"{root}: expected one label CSV (path,subject,onset,apex,offset,aus,emotion), "
                           f"found {len(found)}{': ' + ', '.join(p.name for p in found) if found else ''}; "
                           "pass the CSV itself")
    return found[0]


def load_folder(root: str | os.PathLike) -> LoadedClips:
    """Clips listed in the folder's CSV (or `root` is the CSV)."""
    table = _csv(Path(root))
    out = LoadedClips()
    seen: dict[str, str] = {}
    for row_number, row in read_table(table, COLUMNS, OPTIONAL):
        rel = text(row["path"])
        where = f"{table.name} row {row_number} ({rel})"
        path = Path(rel) if Path(rel).is_absolute() else table.parent / rel
        if not path.exists():
            out.warnings.append(f"{where}: {path} does not exist; row skipped")
            continue
        subject = text(row["subject"])
        if not subject:
            out.warnings.append(f"{where}: no subject; row skipped (leave-one-subject-out needs one)")
            continue
        clip_id = PurePath(rel).with_suffix("").as_posix() if path.is_file() else PurePath(rel).as_posix()
        if clip_id in seen:
            out.warnings.append(f"{where}: same clip as {seen[clip_id]}; both kept")
        seen[clip_id] = where
        emotion = text(row["emotion"]).lower()
        aus, sides, unknown = parse_aus(row["aus"])
        if unknown:
            out.warnings.append(f"{where}: AU codes not understood: {', '.join(unknown)}")
        record = ClipRecord("folder", subject, clip_id, str(path), parse_frame(row["onset"]),
                            parse_frame(row["apex"]), parse_frame(row["offset"]), aus, sides, emotion,
                            megc_class("folder", emotion))
        out.warnings += check_phases(record, where)
        out.append(record)
    return out
