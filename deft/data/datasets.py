"""Load a micro-expression dataset by name, or find out which one a folder holds."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from deft.data.casme2 import FORMAT as CASME2_FORMAT, load_casme2
from deft.data.casme3 import FORMAT as CASME3_FORMAT, load_casme3
from deft.data.folder import load_folder
from deft.data.records import DatasetError, LoadedClips, walk_dirs, walk_files
from deft.data.samm import FORMAT as SAMM_FORMAT, load_samm
from deft.data.smic import MODALITIES, load_smic

LOADERS: dict[str, Callable[..., LoadedClips]] = {
    "casme2": load_casme2, "samm": load_samm, "smic": load_smic, "casme3": load_casme3, "folder": load_folder,
}
ALIASES = {"casmeii": "casme2", "casme3parta": "casme3", "casme3a": "casme3"}


def dataset_name(name: str) -> str | None:
    """'CASME II', 'cas(me)3', 'SAMM' -> a LOADERS key; None when it names none."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    key = ALIASES.get(key, key)
    return key if key in LOADERS else None


def detect_dataset(root: str | os.PathLike) -> str:
    """Which dataset a folder (or label file) holds, from its label sheet or folder layout."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such file or folder")
    files = [root] if root.is_file() else walk_files(root, 2)
    for name, fmt in (("casme2", CASME2_FORMAT), ("samm", SAMM_FORMAT), ("casme3", CASME3_FORMAT)):
        if any(re.search(fmt.sheet_pattern, p.name, re.IGNORECASE) for p in files):
            return name
    if root.is_dir() and any(d.name.upper() in MODALITIES or (d / "micro").is_dir() for d in walk_dirs(root, 2)):
        return "smic"
    if any(p.suffix.lower() == ".csv" for p in files if p.parent == root or p == root):
        return "folder"
    raise DatasetError(
        f"{root}: cannot tell which dataset this is (no CASME2-coding, SAMM_Micro_FACS_Codes or "
        "cas(me)3 *_ME_label sheet, no SMIC HS/VIS/NIR folder, no label CSV); name it: "
        + ", ".join(LOADERS)
    )


def load_dataset(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None, **options) -> LoadedClips:
    """Records of a dataset: `load_dataset("casme2", "/data/CASME2")`, or `load_dataset("/data/CASME2")`
    to detect it. `options` go to the loader (frames_root for sheets, modality for SMIC).

    The result is a list of ClipRecord with `.warnings`: each disagreement the loader found.
    """
    name = dataset_name(str(name_or_path)) if isinstance(name_or_path, str) else None
    if name is None:
        if root is not None:
            raise DatasetError(f"unknown dataset {str(name_or_path)!r}; choose one of {', '.join(LOADERS)}")
        root, name = name_or_path, detect_dataset(name_or_path)
    elif root is None:
        raise DatasetError(f"{name}: give the folder that holds the dataset")
    return LOADERS[name](root, **options)
