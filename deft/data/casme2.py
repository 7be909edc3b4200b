"""CASME II (Yan et al. 2014): the CASME2-coding-*.xlsx sheet and sub01/EP02_01f/img46.jpg folders.

Format, as public loaders read it (tvaranka/meb experiments/utils/dataset_utils.py `casme2()`;
a Kaggle extractor of CASME2-coding-20140508.xlsx; the CARF-Net registry `carfnet/registry.py`):

* sheet: header on row 1 — Subject, Filename, (blank), OnsetFrame, ApexFrame, OffsetFrame,
  (blank), Action Units, Estimated Emotion (pandas names the blanks 'Unnamed: 2'/'Unnamed: 6').
  Subject is a number (1 -> folder sub01); Filename is the clip folder (EP02_01f); frame numbers
  are the N of imgN.jpg; Action Units read like "4+L10", "R12"; ApexFrame is "/" where unknown
  (sub04 EP12_01f). Emotions: happiness, surprise, disgust, repression, fear, sadness, others.
* frames: <root>/[CASME2_RAW_selected|Cropped|...]/sub01/EP02_01f/img46.jpg.

The sheet wins over whatever the folders say; each disagreement the loader can see is a warning
(see `load_sheet_dataset`): a clip folder missing, a subject folder named 1 or 01 instead of sub01,
clips sorted into emotion folders unlike the sheet, phases outside the folder's frames, no apex.
"""

from __future__ import annotations

import os

from deft.data.records import LoadedClips, load_sheet_dataset, numbered_sheet

FORMAT = numbered_sheet("casme2", r"^CASME[-_ ]?(2|II)[-_ ]?coding.*\.(xlsx|csv)$", "CASME2-coding-*.xlsx sheet",
                        "sub{:02d}")
EMOTIONS = FORMAT.emotions


def load_casme2(root: str | os.PathLike, frames_root: str | os.PathLike | None = None) -> LoadedClips:
    """CASME II clips from `root` (the dataset folder, or the coding sheet itself).

    Clip folders are searched under `frames_root` (default: `root`, or the sheet's folder).
    """
    return load_sheet_dataset(FORMAT, root, frames_root)
