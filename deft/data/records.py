"""One labelled clip of a micro-expression dataset, and the parsing every dataset loader shares.

Conventions (all loaders):

* `onset`/`apex`/`offset` are in the dataset's own frame numbering: the number in the frame file
  names (CASME II `img46.jpg` -> 46, SAMM `006_05562.jpg` -> 5562, SMIC `image043518.bmp` -> 43518,
  CAS(ME)³ `355.jpg` -> 355), or, for a video file, its 0-based frame index. `phase_indices` turns
  them into 0-based indices into the clip's frames as `deft.video.read_video` orders them.
* `aus` are normalised to "AU<n>" (intensity letters and "AU" prefixes dropped, first alternative
  of an "or" kept). A side prefix is kept apart in `au_sides`: "L10" -> aus ["AU10"],
  au_sides {"AU10": "left"}; "R" -> "right", "U" -> "unilateral". An AU coded on both sides is
  bilateral and has no entry. Sides are the subject's own (FACS).
* `emotion` is the dataset's label, lowercased; `composite` its MEGC class (deft.labels.MEGC2019) or None
  where the protocol excludes the clip.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deft.errors import DatasetError
from deft.labels import COMPOSITE_CLASSES, clip_key, dataset_emotions, megc_class
from deft.video import IMAGE_SUFFIXES, _natural_key


@dataclass(frozen=True)
class ClipRecord:
    dataset: str  # casme2 | samm | smic | casme3 | folder
    subject: str  # the dataset's own subject id: sub01, 006, s1, spNO.1
    clip_id: str  # unique within (dataset, subject)
    path: str  # frame folder or video file
    onset: int | None
    apex: int | None  # None where the dataset has no apex label (SMIC)
    offset: int | None
    aus: tuple[str, ...] = ()
    au_sides: dict[str, str] = field(default_factory=dict, hash=False)  # AU -> left | right | unilateral
    emotion: str = ""
    composite: str | None = None

    @property
    def subject_key(self) -> str:
        """Subject namespaced by dataset, so 'sub01' of two datasets never merge."""
        return f"{self.dataset}/{self.subject}"

    @property
    def key(self) -> str:
        """The clip key (deft.labels.clip_key) that build, training and evaluation files use."""
        return clip_key(self.dataset, self.subject, self.clip_id)

    def frame_numbers(self) -> list[int] | None:
        """Dataset frame number of each frame, in read order; None for a video file (numbered 0..n-1)."""
        return clip_frame_numbers(self.path)

    def phase_indices(self, frame_numbers: Sequence[int] | None = None) -> tuple[int, int, int] | None:
        """(onset, apex, offset) as 0-based indices for `deft.analyze.analyze(path, phases=...)`.

        `frame_numbers` defaults to `self.frame_numbers()`. None when a phase is unlabelled (SMIC has
        no apex): pass it on and deft spots the phases itself. Indices assume `step=1`.
        """
        phases = (self.onset, self.apex, self.offset)
        if any(p is None for p in phases):
            return None
        numbers = self.frame_numbers() if frame_numbers is None else list(frame_numbers)
        if numbers is None:  # video file: frame numbers are already 0-based indices
            return phases  # type: ignore[return-value]
        index = {n: i for i, n in enumerate(numbers)}
        missing = [p for p in phases if p not in index]
        if missing:
            span = f"{numbers[0]}-{numbers[-1]}" if numbers else "none"
            raise DatasetError(
                f"{self.path}: {self.key} labels frame(s) {', '.join(map(str, missing))}, "
                f"not among the clip's frames ({span})"
            )
        return tuple(index[p] for p in phases)  # type: ignore[return-value]


class LoadedClips(list):
    """The records a loader found (a list of ClipRecord), with `warnings`: every disagreement it saw."""

    def __init__(self, records: Iterable[ClipRecord] = (), warnings: Iterable[str] = ()):
        super().__init__(records)
        self.warnings: list[str] = list(warnings)


# ---- frames -------------------------------------------------------------------------------------

def frame_files(folder: str | os.PathLike) -> list[Path]:
    """Image frames of a folder in natural order: exactly the order `read_video` reads them in."""
    return sorted((p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def frame_number(path: Path) -> int | None:
    """The last run of digits in a frame's file name: img46 -> 46, 006_05562 -> 5562, image043518 -> 43518."""
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else None


def clip_frame_numbers(path: str | os.PathLike) -> list[int] | None:
    """Frame numbers of a frame folder in read order; None for a video file."""
    p = Path(path)
    if not p.is_dir():
        return None
    numbers = [frame_number(f) for f in frame_files(p)]
    if any(n is None for n in numbers):
        raise DatasetError(f"{p}: a frame file name holds no frame number")
    return numbers  # type: ignore[return-value]


def check_phases(record: ClipRecord, where: str) -> list[str]:
    """Warnings for labelled phases that are out of order or outside the clip's frames."""
    problems = []
    labelled = {k: v for k, v in (("onset", record.onset), ("apex", record.apex), ("offset", record.offset))
                if v is not None}
    values = list(labelled.values())
    if values != sorted(values):
        problems.append(f"{where}: phases out of order ({_fmt(labelled)})")
    try:
        numbers = clip_frame_numbers(record.path)
    except DatasetError as err:
        return problems + [f"{where}: {err}"]
    if numbers:
        have = set(numbers)
        outside = {k: v for k, v in labelled.items() if v not in have}
        if outside:
            problems.append(f"{where}: {_fmt(outside)} not among the folder's frames "
                            f"({min(numbers)}-{max(numbers)}, {len(numbers)} files); the sheet is kept")
    elif numbers == []:
        problems.append(f"{where}: {record.path} holds no image frames")
    return problems


def _fmt(phases: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in phases.items())


# ---- label cells --------------------------------------------------------------------------------

_AU_TOKEN = re.compile(r"^(?:AU)?([LRUB])?(?:AU)?(\d{1,2})[A-E]?([LR])?$")  # R12, L10A, AU4, AU12R
_SIDES = {"L": "left", "R": "right", "U": "unilateral"}


def parse_aus(cell: object) -> tuple[tuple[str, ...], dict[str, str], list[str]]:
    """'4+L10', 'R12 + R15', 'AU1+AU2', 'R14A or 17A', 12 -> (aus, sides, tokens not understood)."""
    raw = text(cell)
    if raw in ("", "/", "-") or raw.lower() in ("nan", "none"):
        return (), {}, []
    aus: list[str] = []
    sides: dict[str, set[str]] = {}
    unknown = []
    for part in re.split(r"[+,;&]", raw):
        token = re.split(r"\bor\b", part.strip(), flags=re.IGNORECASE)[0]  # uncertain coding: first choice
        token = re.sub(r"[\s?*]|\(.*?\)", "", token).upper()
        if not token:
            continue
        match = _AU_TOKEN.match(token)
        if not match:
            unknown.append(part.strip())
            continue
        au = f"AU{int(match.group(2))}"
        if au not in aus:
            aus.append(au)
        sides.setdefault(au, set()).add(match.group(1) or match.group(3) or "B")
    side_of = {au: _SIDES[s.pop()] for au, s in sides.items() if len(s) == 1 and next(iter(s)) in _SIDES}
    return tuple(aus), side_of, unknown


def parse_frame(cell: object) -> int | None:
    """A frame number cell: 46, 46.0, '46' -> 46; blank, '/', '-', negative -> None (unlabelled)."""
    try:
        value = float(text(cell))
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value >= 0 and value.is_integer() else None


def text(cell: object) -> str:
    """A label cell as clean text (12.0 -> '12', None -> '')."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


# ---- sheets -------------------------------------------------------------------------------------

HEADER_SCAN_ROWS = 40  # SAMM keeps 13 description rows above its header; look well past that


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


def read_table(path: str | os.PathLike, columns: dict[str, tuple[str, ...]],
               optional: dict[str, tuple[str, ...]] | None = None) -> list[tuple[int, dict]]:
    """Rows of an .xlsx (any sheet) or .csv label table as (row number, {column key: cell}).

    `columns` maps a key to the header names it may carry (compared without case, spaces or
    punctuation: "Onset Frame" == "OnsetFrame"); `optional` columns read as None when absent. The
    header is the first row, within the first HEADER_SCAN_ROWS of a sheet, holding every required
    column; rows above it (notes) are skipped, and so are blank rows below it. Raises DatasetError
    naming the file for anything unreadable.
    """
    p = Path(path)
    sheets = _read_csv(p) if p.suffix.lower() == ".csv" else _read_xlsx(p)
    wanted = {key: [_norm(n) for n in names] for key, names in (columns | (optional or {})).items()}
    first_rows = []
    for sheet_name, rows in sheets:
        for r, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            names = [_norm(c) for c in row]
            where = {key: next((names.index(a) for a in aliases if a in names), None)
                     for key, aliases in wanted.items()}
            if all(where[key] is not None for key in columns):
                out = []
                for number, values in enumerate(rows[r + 1:], start=r + 2):
                    cells = {key: values[i] if i is not None and i < len(values) else None for key, i in where.items()}
                    if any(text(v) for v in cells.values()):
                        out.append((number, cells))
                return out
            if not first_rows and any(text(c) for c in row):
                first_rows.append(f"{sheet_name}: " + ", ".join(text(c) for c in row if text(c))[:120])
    need = "; ".join(" / ".join(names) for names in columns.values())
    raise DatasetError(
        f"{p}: no header row with the columns {need} in the first {HEADER_SCAN_ROWS} rows of any sheet"
        + (f" (first non-empty row: {first_rows[0]})" if first_rows else " (the file is empty)")
    )


def _read_xlsx(path: Path) -> list[tuple[str, list[tuple]]]:
    if path.suffix.lower() == ".xls":
        raise DatasetError(f"{path}: old .xls workbook; open and save it as .xlsx")
    try:
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            return [(ws.title, [tuple(r) for r in ws.iter_rows(values_only=True)]) for ws in book.worksheets]
        finally:
            book.close()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such label sheet") from None
    except Exception as err:  # noqa: BLE001 - zipfile, openpyxl and XML parsers raise many types
        raise DatasetError(f"{path}: not a readable .xlsx workbook ({type(err).__name__}: {err})") from None


def _read_csv(path: Path) -> list[tuple[str, list[tuple]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [(path.name, [tuple(r) for r in csv.reader(f)])]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetError(f"{path}: not a readable CSV file ({err})") from None


def find_label_file(root: str | os.PathLike, pattern: str, what: str, depth: int = 3) -> tuple[Path, list[str]]:
    """The label sheet under `root` (or `root` itself) whose name matches `pattern` (regex, no case).

    Several matches: the last in name order (dated names, e.g. CASME2-coding-20190701, sort newest
    last) and a warning naming the others.
    """
    root = Path(root)
    if root.is_file():
        return root, []
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    rx = re.compile(pattern, re.IGNORECASE)
    found = sorted(p for p in walk_files(root, depth) if rx.search(p.name) and not p.name.startswith("~$"))
    if not found:
        raise DatasetError(f"{root}: no {what} found (looked for /{pattern}/ up to {depth} folders deep)")
    warnings = [f"{root}: several {what} files; using {found[-1].name}, ignoring "
                + ", ".join(p.name for p in found[:-1])] if len(found) > 1 else []
    return found[-1], warnings


def walk_files(root: Path, depth: int) -> list[Path]:
    return [p for d in walk_dirs(root, depth - 1, include_root=True) for p in d.iterdir() if p.is_file()]


def walk_dirs(root: Path, depth: int, include_root: bool = False) -> list[Path]:
    """Folders under `root` up to `depth` levels down (frame files are not listed: only folders)."""
    out = [root] if include_root else []
    level = [root]
    for _ in range(depth):
        level = sorted(c for d in level for c in d.iterdir() if c.is_dir())
        out += level
    return out


def dir_index(root: Path, depth: int) -> dict[str, list[Path]]:
    """Folder name (lowercased) -> every folder of that name under `root`, shallowest first."""
    index: dict[str, list[Path]] = {}
    for d in walk_dirs(root, depth):
        index.setdefault(d.name.lower(), []).append(d)
    return index


def subject_number(name: object) -> int | None:
    """1, '01', 'sub01', 's1', '006' -> the subject's number."""
    digits = re.findall(r"\d+", text(name))
    return int(digits[-1]) if digits else None


def label_folders(path: Path, root: Path, labels: Iterable[str]) -> list[str]:
    """Names of folders between `root` and `path` that are emotion labels (folder-level labels)."""
    known = {label.lower() for label in labels}
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        return []
    return [part.lower() for part in parts if part.lower() in known]


def find_clip_folder(index: dict[str, list[Path]], clip: str, subject: int | None,
                     expected_parent: str) -> tuple[Path | None, list[str]]:
    """The folder named `clip` (any case) inside a folder of subject number `subject`.

    Prefers a parent named exactly `expected_parent` (sub01, 006); notes otherwise, and when the
    clip exists in several places (raw and cropped trees side by side) the shallowest is used.
    """
    found = [d for d in index.get(clip.lower(), []) if subject_number(d.parent.name) == subject]
    if not found:
        return None, []
    exact = [d for d in found if d.parent.name == expected_parent]
    chosen = (exact or found)[0]
    notes = [] if exact else [f"subject folder '{chosen.parent.name}' for sheet subject {subject} "
                              f"(expected '{expected_parent}')"]
    if len(found) > 1:
        notes.append(f"found in {len(found)} places; using {chosen}")
    return chosen, notes


# ---- sheet + frame folders (CASME II, SAMM, CAS(ME)³) -------------------------------------------

Locator = Callable[[dict[str, list[Path]], dict, str, str], tuple["Path | None", list[str]]]


@dataclass(frozen=True)
class SheetFormat:
    """What differs between label-sheet datasets; `load_sheet_dataset` does the rest."""

    dataset: str
    sheet_pattern: str  # regex on the label file's name
    sheet_what: str  # how an error names the sheet
    columns: dict[str, tuple[str, ...]]  # keys: subject clip onset apex offset aus emotion
    emotions: tuple[str, ...]  # the dataset's labels (lowercased), to spot folder-level labels
    subject_name: Callable[[object], str]  # sheet cell -> subject id (1 -> sub01)
    clip_name: Callable[[dict], str]  # row -> clip id
    locate: Locator  # (folder index, row, subject, clip) -> clip folder, notes
    search_depth: int = 4
    report_unlabelled: bool = True  # warn about sibling clip folders with no row


def load_sheet_dataset(fmt: SheetFormat, root: str | os.PathLike,
                       frames_root: str | os.PathLike | None = None) -> LoadedClips:
    """Records of a sheet-labelled dataset; the sheet wins and every disagreement is a warning.

    Warnings: several sheets, clip folder missing (row skipped), subject folder named unlike the
    sheet, a folder-level emotion label unlike the sheet's, no apex, phases out of order or outside
    the folder's frames, AU codes not understood, a clip twice, clip folders with no row.
    """
    sheet, warnings = find_label_file(root, fmt.sheet_pattern, fmt.sheet_what)
    base = Path(frames_root) if frames_root is not None else (Path(root) if Path(root).is_dir() else sheet.parent)
    index = dir_index(base, fmt.search_depth)
    out = LoadedClips(warnings=warnings)
    used: set[Path] = set()
    seen: dict[tuple[str, str], str] = {}
    for row_number, row in read_table(sheet, fmt.columns):
        subject, clip = fmt.subject_name(row["subject"]), fmt.clip_name(row)
        where = f"{sheet.name} row {row_number} ({subject}/{clip})"
        folder, notes = fmt.locate(index, row, subject, clip)
        out.warnings += [f"{where}: {n}" for n in notes]
        if folder is None:
            out.warnings.append(f"{where}: clip folder missing under {base}; row skipped")
            continue
        if (subject, clip) in seen:
            out.warnings.append(f"{where}: same clip as {seen[subject, clip]}; both kept")
        seen[subject, clip] = where
        used.add(folder)
        emotion = text(row["emotion"]).lower()
        aus, sides, unknown = parse_aus(row["aus"])
        if unknown:
            out.warnings.append(f"{where}: AU codes not understood: {', '.join(unknown)}")
        record = ClipRecord(fmt.dataset, subject, clip, str(folder), parse_frame(row["onset"]),
                            parse_frame(row["apex"]), parse_frame(row["offset"]), aus, sides, emotion,
                            megc_class(fmt.dataset, emotion))
        if record.apex is None:
            out.warnings.append(f"{where}: no apex in the sheet ({text(row['apex']) or 'blank'})")
        for label in label_folders(folder, base, fmt.emotions + COMPOSITE_CLASSES):
            if label not in (emotion, record.composite):
                out.warnings.append(f"{where}: folder label '{label}' disagrees with the sheet's "
                                    f"'{emotion}'; the sheet wins")
        out.warnings += check_phases(record, where)
        out.append(record)
    for parent in sorted({f.parent for f in used}) if fmt.report_unlabelled else ():
        for extra in sorted(d for d in parent.iterdir() if d.is_dir() and d not in used):
            out.warnings.append(f"{extra}: clip folder has no row in {sheet.name}")
    return out


def locate_by_subject_number(index: dict[str, list[Path]], row: dict, subject: str, clip: str) -> tuple[Path | None, list[str]]:
    """SheetFormat.locate for sheets whose Subject cell is a number (CASME II, SAMM)."""
    return find_clip_folder(index, clip, subject_number(row["subject"]), subject)


# CASME II and SAMM: one sheet row per clip, keyed by a Subject number and a Filename. Header names
# compare without case or spaces, so CASME II's "OnsetFrame" and SAMM's "Onset Frame" both match.
NUMBERED_COLUMNS = {
    "subject": ("Subject",),
    "clip": ("Filename",),
    "onset": ("OnsetFrame", "Onset"),
    "apex": ("ApexFrame", "Apex"),
    "offset": ("OffsetFrame", "Offset"),
    "aus": ("Action Units", "AU", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}


def numbered_sheet(dataset: str, sheet_pattern: str, sheet_what: str, subject_folder: str) -> SheetFormat:
    """The SheetFormat of a Subject-number + Filename sheet; `subject_folder` formats the subject's folder
    name from its number ('sub{:02d}': 1 -> sub01). Clips sit 4 folders deep at most:
    root/<tree>/<label folder>/<subject>/<clip>."""
    def subject_name(cell: object) -> str:
        number = subject_number(cell)
        return subject_folder.format(number) if number is not None else text(cell)

    return SheetFormat(dataset, sheet_pattern, sheet_what, NUMBERED_COLUMNS, dataset_emotions(dataset), subject_name,
                       clip_name=lambda row: text(row["clip"]), locate=locate_by_subject_number, search_depth=4)
