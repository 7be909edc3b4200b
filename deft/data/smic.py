"""SMIC (Li et al. 2013): HS/VIS/NIR folders, the class in the folder path, no apex label.

Format, as public loaders read it (tvaranka/meb experiments/utils/dataset_utils.py `smic()`:
"{subject}/micro/{emotion}/{material}/"; MER repositories reading SMIC_all_raw/HS with
{'ne': 'negative', 'po': 'positive', 'sur': 'surprise'}; SMIC-E loaders reading
SMIC-HS-E_annotation.xlsx with Subject, Filename, OnsetF, OffsetF, Emotion (ApexF in the 2019
edition) and frames image{N:06d}):

* frames: <root>/[SMIC_all_raw/]HS/s1/micro/negative/s1_ne_01/image043518.bmp; VIS and NIR the
  same; <subject>/non_micro/ holds non-expression clips and is skipped. Frame numbers are the N of
  imageN (of the long recording), the class is the folder: negative, positive or surprise.
* onset/offset: from a SMIC-*-E annotation sheet beside the data when one names the clip, else
  the clip's first and last frame (SMIC clips are cut at onset and offset). Apex: the 2019 sheet's
  ApexF when present, else None (deft spots it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from deft.data.records import (
    ClipRecord, DatasetError, LoadedClips, check_phases, clip_frame_numbers, parse_frame, read_table, text,
    walk_dirs, walk_files,
)
from deft.labels import COMPOSITE_CLASSES

MODALITIES = ("HS", "VIS", "NIR")
ANNOTATION_PATTERN = r"^SMIC.*annotation.*\.(xlsx|csv)$"
ANNOTATION_COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("OnsetF", "Onset", "OnsetFrame"),
    "offset": ("OffsetF", "Offset", "OffsetFrame"),
    "emotion": ("Emotion",),
}


def _modality_folder(root: Path, modality: str) -> Path:
    """`root` itself when it is the modality folder (holds s1, s2, ...), else HS/ found below it."""
    if any(re.fullmatch(r"s\d+", d.name, re.IGNORECASE) and (d / "micro").is_dir() for d in root.iterdir()):
        return root
    for d in walk_dirs(root, 3):
        if d.name.upper() == modality and any((s / "micro").is_dir() for s in d.iterdir() if s.is_dir()):
            return d
    raise DatasetError(f"{root}: no SMIC {modality} folder (looked for {modality}/s1/micro/... up to 3 folders deep)")


Phases = tuple[int | None, int | None, int | None, str]  # onset, apex, offset, emotion


def _annotations(root: Path, modality: str, warnings: list[str]) -> dict[str, Phases]:
    """Clip name -> (onset, apex, offset, emotion) from a SMIC-<modality>-E annotation sheet, if any."""
    sheets = [p for p in walk_files(root, 3) if re.search(ANNOTATION_PATTERN, p.name, re.IGNORECASE)
              and modality.lower() in p.name.lower() and not p.name.startswith("~$")]
    table: dict[str, Phases] = {}
    for sheet in sorted(sheets):
        rows = read_table(sheet, ANNOTATION_COLUMNS, {"apex": ("ApexF", "Apex", "ApexFrame")})
        for _, row in rows:
            table[text(row["clip"]).lower()] = (parse_frame(row["onset"]), parse_frame(row["apex"]),
                                                 parse_frame(row["offset"]), text(row["emotion"]).lower())
        warnings.append(f"{sheet}: onset/offset of {len(rows)} clips taken from this annotation")
    return table


def load_smic(root: str | os.PathLike, modality: str = "HS") -> LoadedClips:
    """SMIC micro-expression clips of one modality (HS, VIS or NIR) from `root`."""
    root, modality = Path(root), modality.upper()
    if modality not in MODALITIES:
        raise DatasetError(f"SMIC modality {modality!r}: choose one of {', '.join(MODALITIES)}")
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    folder = _modality_folder(root, modality)
    out = LoadedClips()
    labels = _annotations(root, modality, out.warnings)
    for subject in sorted((d for d in folder.iterdir() if (d / "micro").is_dir()), key=lambda d: d.name):
        for class_dir in sorted(d for d in (subject / "micro").iterdir() if d.is_dir()):
            emotion = class_dir.name.lower()
            if emotion not in COMPOSITE_CLASSES:
                out.warnings.append(f"{class_dir}: not a SMIC class folder ({', '.join(COMPOSITE_CLASSES)}); skipped")
                continue
            for clip in sorted(d for d in class_dir.iterdir() if d.is_dir()):
                numbers = clip_frame_numbers(clip) or []
                if not numbers:
                    out.warnings.append(f"{clip}: no image frames; skipped")
                    continue
                onset, apex, offset = numbers[0], None, numbers[-1]
                if clip.name.lower() in labels:
                    on, ap, off, said = labels[clip.name.lower()]
                    onset, apex, offset = on if on is not None else onset, ap, off if off is not None else offset
                    if said and said != emotion:
                        out.warnings.append(f"{clip}: annotation says '{said}', folder says '{emotion}'; "
                                            "the folder wins")
                record = ClipRecord("smic", subject.name, clip.name, str(clip), onset, apex, offset,
                                    emotion=emotion, composite=emotion)
                out.warnings += check_phases(record, str(clip))
                out.append(record)
    return out
