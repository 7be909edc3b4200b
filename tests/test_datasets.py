"""Dataset loaders on tiny fixtures written in each dataset's real layout (sheets, folders, file names)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import Workbook

from deft.data.casme2 import load_casme2
from deft.data.casme3 import load_casme3
from deft.data.datasets import detect_dataset, load_dataset
from deft.data.folder import load_folder
from deft.data.records import ClipRecord, DatasetError, frame_files, parse_aus
from deft.data.samm import load_samm
from deft.data.smic import load_smic
from deft.data.splits import loso_splits
from deft.labels import megc_class
from deft.video import read_video, write_video


def frames(folder: Path, names: list[str]) -> Path:
    """Tiny 16x16 frames whose grey level encodes their position, so read order can be checked."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((16, 16, 3), 10 * i, np.uint8))
    return folder


def xlsx(path: Path, rows: list[list], sheet: str = "Sheet1") -> Path:
    book = Workbook()
    ws = book.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def warned(records, *words: str) -> list[str]:
    return [w for w in records.warnings if all(word in w for word in words)]


# ---- CASME II ----------------------------------------------------------------------------------

CASME2_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                 "Action Units", "Estimated Emotion"]  # the two blank columns are in the real sheet


@pytest.fixture(scope="module")
def casme2_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("CASME2")
    raw = root / "CASME2_RAW_selected"
    frames(raw / "sub01" / "EP02_01f", [f"img{n}.jpg" for n in range(8, 14)])  # img8..img13: img10 after img9
    frames(raw / "sub01" / "EP03_02", [f"img{n}.jpg" for n in range(100, 106)])
    frames(raw / "sub02" / "EP01_11f", [f"img{n}.jpg" for n in range(1, 6)])
    frames(raw / "sub02" / "EP99_01", [f"img{n}.jpg" for n in range(1, 4)])  # no row in the sheet
    frames(raw / "4" / "EP08_01", [f"img{n}.jpg" for n in range(20, 25)])  # subject folder named 4, not sub04
    frames(root / "surprise" / "sub05" / "EP09_02", [f"img{n}.jpg" for n in range(30, 36)])  # folder-level label
    xlsx(root / "CASME2-coding-20190701.xlsx", [
        CASME2_HEADER,
        [1, "EP02_01f", None, 9, 10, 12, None, "6+12", "happiness"],
        [1, "EP03_02", None, 100, 102, 109, None, "4+L10", "disgust"],  # offset past the folder's last frame
        [2, "EP01_11f", None, 1, "/", 5, None, "R12", "others"],  # no apex, as sub04 EP12_01f
        [3, "EP07_01", None, 5, 8, 12, None, 14, "repression"],  # no folder
        [4, "EP08_01", None, 20, 22, 24, None, "1+2", "surprise"],
        [5, "EP09_02", None, 30, 32, 35, None, "9", "disgust"],
    ])
    return root


def test_casme2_records(casme2_root):
    records = load_casme2(casme2_root)
    by_clip = {r.clip_id: r for r in records}
    assert set(by_clip) == {"EP02_01f", "EP03_02", "EP01_11f", "EP08_01", "EP09_02"}
    happy = by_clip["EP02_01f"]
    assert (happy.dataset, happy.subject, happy.onset, happy.apex, happy.offset) == ("casme2", "sub01", 9, 10, 12)
    assert happy.aus == ("AU6", "AU12") and happy.au_sides == {}
    assert (happy.emotion, happy.composite) == ("happiness", "positive")
    assert Path(happy.path) == casme2_root / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    disgust = by_clip["EP03_02"]
    assert disgust.aus == ("AU4", "AU10") and disgust.au_sides == {"AU10": "left"}
    assert disgust.composite == "negative"
    others = by_clip["EP01_11f"]
    assert others.apex is None and others.composite is None  # MEGC 2019 drops 'others'
    assert others.au_sides == {"AU12": "right"}
    assert by_clip["EP08_01"].subject == "sub04"


def test_casme2_sheet_wins_and_each_disagreement_is_reported(casme2_root):
    records = load_casme2(casme2_root)
    by_clip = {r.clip_id: r for r in records}
    # clips sorted into a 'surprise' folder while the sheet says disgust: the sheet wins
    assert by_clip["EP09_02"].emotion == "disgust" and by_clip["EP09_02"].composite == "negative"
    assert warned(records, "EP09_02", "folder label 'surprise'", "'disgust'", "sheet wins")
    assert warned(records, "EP07_01", "clip folder missing")
    assert warned(records, "EP08_01", "subject folder '4'", "expected 'sub04'")
    assert warned(records, "EP03_02", "offset=109", "not among the folder's frames")
    assert warned(records, "EP01_11f", "no apex")
    assert warned(records, "EP99_01", "no row")
    assert len(records.warnings) == 6, records.warnings


def test_phase_indices_follow_natural_frame_order(casme2_root):
    happy = next(r for r in load_casme2(casme2_root) if r.clip_id == "EP02_01f")
    assert [f.name for f in frame_files(happy.path)][:4] == ["img8.jpg", "img9.jpg", "img10.jpg", "img11.jpg"]
    assert happy.phase_indices() == (1, 2, 4)  # img9, img10, img12
    video = read_video(happy.path)  # the indices address the frames exactly as analyze() reads them
    assert [int(video.frames[i, 0, 0, 0]) // 10 for i in happy.phase_indices()] == [1, 2, 4]
    assert happy.phase_indices([9, 10, 11, 12]) == (0, 1, 3)
    with pytest.raises(DatasetError, match=r"EP02_01f.*12.*\(9-11\)"):
        happy.phase_indices([9, 10, 11])


def test_unlabelled_apex_leaves_phases_to_deft(casme2_root):
    others = next(r for r in load_casme2(casme2_root) if r.clip_id == "EP01_11f")
    assert others.phase_indices() is None  # analyze(path, phases=None) spots them


def test_missing_and_malformed_sheets_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"no CASME2-coding"):
        load_casme2(tmp_path)
    bad = xlsx(tmp_path / "CASME2-coding-bad.xlsx", [["Subject", "Filename", "ApexFrame", "Estimated Emotion"]])
    with pytest.raises(DatasetError, match=r"CASME2-coding-bad\.xlsx: no header row.*OnsetFrame"):
        load_casme2(tmp_path)
    bad.write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match=r"CASME2-coding-bad\.xlsx: not a readable \.xlsx"):
        load_casme2(bad)
    with pytest.raises(DatasetError, match=r"no such dataset folder"):
        load_samm(tmp_path / "absent")


# ---- SAMM --------------------------------------------------------------------------------------

SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
               "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def samm_sheet(path: Path, rows: list[list]) -> Path:
    notes = [["SAMM Micro-Movement Dataset - Micro-expression FACS codes"], [], ["Coder notes: ..."]]
    notes += [[f"description line {i}"] if i % 2 else [] for i in range(10)]
    assert len(notes) == 13  # the real sheet's header is its 14th row
    return xlsx(path, notes + [SAMM_HEADER] + rows, sheet="MICRO_ONLY")


@pytest.fixture(scope="module")
def samm_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("SAMM")
    frames(root / "SAMM" / "006" / "006_1_2", [f"006_{n:05d}.jpg" for n in range(5562, 5569)])
    frames(root / "SAMM" / "007" / "007_3_1", [f"007_{n:05d}.jpg" for n in range(998, 1003)])
    frames(root / "SAMM" / "011" / "011_2_3", [f"011_{n:05d}.jpg" for n in range(40, 45)])
    samm_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [
        [6, "006_1_2", "1", 5562, 5565, 5568, 7, "Micro - 1/2", "R12 + R15", "Contempt", "IV", None],
        [7, "007_3_1", "3", 998, 1000, 1002, 5, "Micro - 1/2", "R14A or 17A", "Happiness", "I", None],
        [11, "011_2_3", "2", 40, -1, 44, 5, "Micro - 1/2", "4+7", "Other", "VII", "apex unclear"],
    ])
    return root


def test_samm_reads_past_the_description_rows(samm_root):
    records = load_samm(samm_root)
    by_clip = {r.clip_id: r for r in records}
    assert set(by_clip) == {"006_1_2", "007_3_1", "011_2_3"}
    contempt = by_clip["006_1_2"]
    assert (contempt.subject, contempt.onset, contempt.apex, contempt.offset) == ("006", 5562, 5565, 5568)
    assert contempt.aus == ("AU12", "AU15") and contempt.au_sides == {"AU12": "right", "AU15": "right"}
    assert (contempt.emotion, contempt.composite) == ("contempt", "negative")
    assert contempt.phase_indices() == (0, 3, 6)
    assert by_clip["007_3_1"].aus == ("AU14",) and by_clip["007_3_1"].composite == "positive"
    other = by_clip["011_2_3"]
    assert other.apex is None and other.emotion == "other" and other.composite is None
    assert warned(records, "011_2_3", "no apex") and len(records.warnings) == 1, records.warnings


# ---- SMIC --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("SMIC")
    hs = root / "SMIC_all_raw" / "HS"
    frames(hs / "s1" / "micro" / "negative" / "s1_ne_01", [f"image{n:06d}.bmp" for n in range(43518, 43524)])
    frames(hs / "s1" / "micro" / "positive" / "s1_po_01", [f"image{n:06d}.bmp" for n in range(998, 1003)])
    frames(hs / "s2" / "micro" / "surprise" / "s2_sur_01", [f"image{n:06d}.bmp" for n in range(7, 12)])
    frames(hs / "s2" / "non_micro" / "s2_n_01", [f"image{n:06d}.bmp" for n in range(1, 4)])  # skipped
    frames(root / "SMIC_all_raw" / "VIS" / "s1" / "micro" / "negative" / "s1_ne_01",
           [f"image{n:06d}.bmp" for n in range(100, 104)])
    return root


def test_smic_class_from_folder_and_first_last_frames(smic_root):
    records = load_smic(smic_root)
    by_clip = {r.clip_id: r for r in records}
    assert set(by_clip) == {"s1_ne_01", "s1_po_01", "s2_sur_01"}
    ne = by_clip["s1_ne_01"]
    assert (ne.dataset, ne.subject, ne.emotion, ne.composite) == ("smic", "s1", "negative", "negative")
    assert (ne.onset, ne.apex, ne.offset) == (43518, None, 43523) and ne.phase_indices() is None
    assert by_clip["s1_po_01"].composite == "positive" and by_clip["s2_sur_01"].composite == "surprise"
    assert records.warnings == []
    vis = load_smic(smic_root, modality="VIS")
    assert [(r.clip_id, r.onset, r.offset) for r in vis] == [("s1_ne_01", 100, 103)]


def test_smic_annotation_sheet_gives_phases(tmp_path, smic_root):
    import shutil

    root = tmp_path / "SMIC"
    shutil.copytree(smic_root, root)
    xlsx(root / "SMIC_all_raw" / "HS" / "SMIC-HS-E_annotation_2019.xlsx", [
        ["Subject", "Filename", "OnsetF", "ApexF", "OffsetF", "Emotion"],
        [1, "s1_ne_01", 43519, 43521, 43522, "negative"],
        [1, "s1_po_01", 998, 1000, 1002, "surprise"],  # disagrees with its folder
    ])
    records = load_smic(root)
    by_clip = {r.clip_id: r for r in records}
    assert (by_clip["s1_ne_01"].onset, by_clip["s1_ne_01"].apex, by_clip["s1_ne_01"].offset) == (43519, 43521, 43522)
    assert by_clip["s1_ne_01"].phase_indices() == (1, 3, 4)
    assert by_clip["s1_po_01"].emotion == "positive"
    assert warned(records, "s1_po_01", "annotation says 'surprise'")


# ---- CAS(ME)³ ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def casme3_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("CASME3")
    frames(root / "Part_A_ME_clip" / "frame" / "spNo.1_a_355", [f"{n}.jpg" for n in range(355, 361)])  # spNo, not spNO
    frames(root / "part_A" / "spNO.2" / "b" / "color", [f"{n}.jpg" for n in range(0, 12)])  # a whole task video
    frames(root / "part_A" / "spNO.2" / "b" / "depth", [f"{n}.png" for n in range(0, 2)])
    xlsx(root / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", [
        ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"],
        ["spNO.1", "a", 355, 357, 360, "L4+R4+7", "III", "disgust"],
        ["spNO.2", "b", 8, 9, 11, "AU12", "I", "happy"],
        ["spNO.2", "b", 2, 2, 0, "1+2", "II", "surprise"],  # offset 0, apex = onset: label slips
        ["spNO.3", "c", 5, 6, 7, "4", "II", "others"],  # no folder
    ], sheet="label")
    return root


def test_casme3_both_layouts(casme3_root):
    records = load_casme3(casme3_root)
    by_clip = {(r.subject, r.clip_id): r for r in records}
    assert set(by_clip) == {("spNO.1", "a_355"), ("spNO.2", "b_8"), ("spNO.2", "b_2")}
    disgust = by_clip["spNO.1", "a_355"]
    assert Path(disgust.path).name == "spNo.1_a_355" and disgust.aus == ("AU4", "AU7") and disgust.au_sides == {}
    assert disgust.composite == "negative" and disgust.phase_indices() == (0, 2, 5)
    happy = by_clip["spNO.2", "b_8"]
    assert Path(happy.path) == casme3_root / "part_A" / "spNO.2" / "b" / "color"
    assert happy.composite == "positive" and happy.phase_indices() == (8, 9, 11)
    assert warned(records, "b_2", "out of order") and warned(records, "spNO.3", "missing")
    assert len(records.warnings) == 2, records.warnings


# ---- plain folder ------------------------------------------------------------------------------

def test_folder_of_videos_and_frame_folders(tmp_path):
    clip = np.zeros((6, 16, 16, 3), np.uint8)
    write_video(clip, tmp_path / "a.mp4")
    frames(tmp_path / "seq", [f"f{n}.png" for n in range(1, 11)])
    (tmp_path / "labels.csv").write_text(
        "path,subject,onset,apex,offset,aus,emotion\n"
        "a.mp4,p1,0,2,5,AU6+AU12,Happiness\n"
        "seq,p2,2,5,9,L14,contempt\n"
        "seq,p2,,,,,others\n"
        "gone.mp4,p3,0,1,2,,surprise\n"
    )
    records = load_folder(tmp_path)
    assert [(r.clip_id, r.subject, r.composite) for r in records] == [
        ("a", "p1", "positive"), ("seq", "p2", "negative"), ("seq", "p2", None)]
    assert records[0].phase_indices() == (0, 2, 5)  # video: 0-based frame indices
    assert records[1].phase_indices() == (1, 4, 8) and records[1].au_sides == {"AU14": "left"}
    assert records[2].phase_indices() is None
    assert warned(records, "gone.mp4", "does not exist") and warned(records, "same clip")


# ---- registry, composite classes, LOSO ---------------------------------------------------------

def test_load_dataset_by_name_and_detected(casme2_root, samm_root, smic_root, casme3_root):
    assert detect_dataset(casme2_root) == "casme2" and detect_dataset(samm_root) == "samm"
    assert detect_dataset(smic_root) == "smic" and detect_dataset(casme3_root) == "casme3"
    assert [r.key for r in load_dataset(str(casme2_root))] == [r.key for r in load_dataset("CASME II", casme2_root)]
    assert len(load_dataset("smic", smic_root, modality="VIS")) == 1
    with pytest.raises(DatasetError, match="unknown dataset 'mmew'"):
        load_dataset("mmew", casme2_root)


def test_megc2019_composite_classes():
    assert [megc_class("casme2", e) for e in ("happiness", "surprise", "disgust", "repression")] == [
        "positive", "surprise", "negative", "negative"]
    assert [megc_class("casme2", e) for e in ("others", "fear", "sadness")] == [None, None, None]
    assert [megc_class("samm", e) for e in ("Anger", "Contempt", "Disgust", "Fear", "Sadness")] == ["negative"] * 5
    assert megc_class("samm", "Other") is None and megc_class("casme3", "others") is None
    with pytest.raises(DatasetError):
        megc_class("mmew", "happiness")


def test_loso_has_no_subject_leak(casme2_root, samm_root, smic_root, casme3_root):
    records = [*load_casme2(casme2_root), *load_samm(samm_root), *load_smic(smic_root), *load_casme3(casme3_root)]
    # a SAMM subject named like a CASME II one is another person
    records.append(ClipRecord("samm", "sub01", "x", "x", 0, 1, 2))
    folds = loso_splits(records)
    subjects = [s for s, _, _ in folds]
    assert len(subjects) == len(set(subjects)) == len({r.subject_key for r in records})
    assert "casme2/sub01" in subjects and "samm/sub01" in subjects
    for subject, train, test in folds:
        assert {r.subject_key for r in test} == {subject}
        assert not {r.subject_key for r in train} & {r.subject_key for r in test}
        assert len(train) + len(test) == len(records)


def test_parse_aus_spellings():
    assert parse_aus("AU1+AU2+AU25") == (("AU1", "AU2", "AU25"), {}, [])
    assert parse_aus("L12+R12") == (("AU12",), {}, [])  # both sides: bilateral
    assert parse_aus("U14") == (("AU14",), {"AU14": "unilateral"}, [])
    assert parse_aus(4.0) == (("AU4",), {}, [])
    assert parse_aus("12+blink") == (("AU12",), {}, ["blink"])
