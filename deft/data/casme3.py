"""CAS(ME)³ part A (Li et al., TPAMI 2022): the ME label sheet and its frame folders.

Format, as public loaders read it (annotation files listed in jingtingEmmaLi/CAS-ME-3
`annotation/`; loaders reading cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx with row['Subject'],
['Filename'], ['Onset'], ['Apex'], ['Offset'], ['AU'], ['Objective class'], ['emotion'], sheet
"label"; the CARF-Net registry and a Kaggle extractor for the clip folders):

* sheet: Subject (spNO.1), Filename (a, b, ...: one of the subject's task videos), Onset, Apex,
  Offset ("JpgIndex": the N of N.jpg), AU, Objective class, emotion (happy, surprise, disgust,
  fear, anger, sad, others). One Filename can hold several MEs, so the clip id is
  "<Filename>_<Onset>" (a_355).
* frames, either layout:
  - ME clips: <root>/.../spNO.1_a_355/355.jpg (Part_A_ME_clip/frame; folders say spNo where the
    sheet says spNO, which is matched without case and not reported);
  - whole task videos: <root>/.../spNO.1/a/color/0.jpg (beside depth/); such a folder holds
    thousands of frames, past `read_video`'s 600-frame cap: cut the clip out first.

Known label slips (apex <= onset, offset 0, spNO.216 d onset 3647) come out as phase warnings.
"""

from __future__ import annotations

import os
from pathlib import Path

from deft.data.records import LoadedClips, SheetFormat, load_sheet_dataset, parse_frame, text
from deft.labels import dataset_emotions

EMOTIONS = dataset_emotions("casme3")


def _clip(row: dict) -> str:
    onset = parse_frame(row["onset"])
    return f"{text(row['clip'])}_{onset}" if onset is not None else text(row["clip"])


def _locate(index: dict[str, list[Path]], row: dict, subject: str, clip: str) -> tuple[Path | None, list[str]]:
    clips = index.get(f"{subject}_{clip}".lower(), [])
    if clips:
        return clips[0], [f"found in {len(clips)} places; using {clips[0]}"] if len(clips) > 1 else []
    for video in index.get(text(row["clip"]).lower(), []):
        if video.parent.name.lower() == subject.lower():
            color = video / "color"
            return (color if color.is_dir() else video), []
    return None, []


FORMAT = SheetFormat(
    dataset="casme3",
    sheet_pattern=r"^cas\W*me\W*\^?3.*_ME_label.*\.(xlsx|csv)$",
    sheet_what="cas(me)3_part_A_ME_label*.xlsx sheet",
    columns={
        "subject": ("Subject", "sub"),
        "clip": ("Filename", "seq"),
        "onset": ("Onset",),
        "apex": ("Apex",),
        "offset": ("Offset",),
        "aus": ("AU", "Action Units", "AUs"),
        "emotion": ("emotion", "Estimated Emotion"),
    },
    emotions=EMOTIONS,
    subject_name=text,
    clip_name=_clip,
    locate=_locate,
    search_depth=6,  # root/part_A/data/<release>/spNO.1/a/color
    report_unlabelled=False,  # a task video's folder also holds depth/; clip trees hold macro-expressions
)


def load_casme3(root: str | os.PathLike, frames_root: str | os.PathLike | None = None) -> LoadedClips:
    """CAS(ME)³ part A micro-expressions from `root` (the dataset folder, or the label sheet itself)."""
    return load_sheet_dataset(FORMAT, root, frames_root)
