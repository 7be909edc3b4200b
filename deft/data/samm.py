"""SAMM (Davison et al. 2018): SAMM_Micro_FACS_Codes_v2.xlsx and 006/006_1_2/006_05562.jpg folders.

Format, as public loaders read it (tvaranka/meb experiments/utils/dataset_utils.py `samm()` takes
the column names from the sheet's 14th row and the data below it; a Kaggle extractor reads it
with `header=13`; the CARF-Net registry looks for the row that starts with "Subject"):

* sheet: 13 description rows, then the header Subject, Filename, Inducement Code, Onset Frame,
  Apex Frame, Offset Frame, Duration, Micro, Action Units, Estimated Emotion, Objective Classes,
  Notes. Subject is a number (6 -> folder 006); frame numbers are the N of 006_0N.jpg; Action
  Units read like "R12 + R15", "L14", "R14A or 17A"; emotions are capitalised (Happiness, Anger,
  Contempt, Disgust, Fear, Sadness, Surprise, Other).
* frames: <root>/[SAMM|SAMM_CROP|...]/006/006_1_2/006_05562.jpg (grey-level jpgs).

The header row is found, not assumed, so a sheet with more or fewer note rows still loads.
The sheet wins; disagreements are warnings, as for CASME II.
"""

from __future__ import annotations

import os

from deft.data.records import LoadedClips, load_sheet_dataset, numbered_sheet

FORMAT = numbered_sheet("samm", r"^SAMM.*(FACS|Codes).*\.(xlsx|csv)$", "SAMM_Micro_FACS_Codes*.xlsx sheet", "{:03d}")
EMOTIONS = FORMAT.emotions


def load_samm(root: str | os.PathLike, frames_root: str | os.PathLike | None = None) -> LoadedClips:
    """SAMM clips from `root` (the dataset folder, or the FACS codes sheet itself)."""
    return load_sheet_dataset(FORMAT, root, frames_root)
