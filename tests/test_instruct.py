"""Uni-MER builders: grounded answers, the dual constraint, the claim checker, resumable builds."""

import json
from pathlib import Path

import jsonschema
import pytest

from deft.analyze import analyze_frames
from deft.data.synthetic import SyntheticSpec, render
from deft.instruct.build import INSTRUCTIONS_FILE, QC_FILE, build, jobs_from_source
from deft.instruct.builder import build_pairs
from deft.instruct.claims import faithfulness, named_aus, named_regions, unbacked_claims
from deft.instruct.facts import ClipLabels, ground
from deft.instruct.templates import SCHEMA_PATH
from tests.conftest import as_video

META = {"dataset": "synthetic", "subject": "astronaut", "clip_id": "happy"}
SCHEMA = json.loads(SCHEMA_PATH.read_text())
SAMPLE = Path(__file__).resolve().parents[1] / "instruction_data" / "sample"


@pytest.fixture(scope="module")
def happy_analysis(happy_clip):
    return analyze_frames(as_video(happy_clip.frames))


def test_answers_are_grounded_and_valid(happy_analysis):
    g = ground(happy_analysis, ClipLabels({"AU6", "AU12"}, "happiness", "positive"))
    assert g.supported_aus == ["AU6", "AU12"] and not g.unsupported_labels and not g.unlabelled_motion
    records = build_pairs(g, META, seed=1)
    assert [r["type"] for r in records] == ["describe_motion", "name_aus", "classify_emotion", "structured", "contrast"]
    for r in records:
        jsonschema.validate(r, SCHEMA)
        assert unbacked_claims(r) == [], r["answer"]
    name_aus = records[1]["answer"]
    assert named_aus(name_aus) == {"AU6", "AU12"}
    assert {"mouth_corner_left", "mouth_corner_right", "cheek_left", "cheek_right"} <= named_regions(name_aus)
    assert "positive" in records[2]["answer"] and "happiness" in records[2]["answer"]
    assert json.loads(records[3]["answer"])["emotion"] == {"composite": "positive", "fine": "happiness"}


def test_same_seed_same_text_other_seed_other_phrasing(happy_analysis):
    g = ground(happy_analysis, ClipLabels({"AU6", "AU12"}, "happiness", "positive"))
    assert build_pairs(g, META, seed=1) == build_pairs(g, META, seed=1)
    texts = {tuple(r["instruction"] for r in build_pairs(g, META, seed=s)) for s in range(6)}
    assert len(texts) > 1


def test_dual_constraint(happy_analysis):
    # a label the motion contradicts (lip corners went up, not down) and a movement nobody labelled
    g = ground(happy_analysis, ClipLabels({"AU12", "AU15"}, "happiness", "positive"))
    assert g.unsupported_labels == ["AU15"]
    assert g.unlabelled_motion == ["AU6"]
    assert "au:AU15" not in g.facts and "au:AU6" not in g.facts


def test_claim_checker_catches_an_unbacked_sentence(happy_analysis):
    g = ground(happy_analysis, ClipLabels({"AU6", "AU12"}, "happiness", "positive"))
    record = build_pairs(g, META)[1]
    record["sentences"][0]["text"] += " AU4 also lowers the left inner brow."
    problems = unbacked_claims(record)
    assert any("'AU4'" in p for p in problems) and any("inner_brow_left" in p for p in problems)


def test_faithfulness_scores():
    text = "AU12 pulls the left mouth corner up; AU4 lowers the brows."
    f = faithfulness(text, {"AU12", "AU6"}, {"mouth_corner_left", "cheek_left"})
    assert f.named == {"AU12", "AU4", "mouth_corner_left"}
    assert f.unsupported == {"AU4"}
    assert f.precision == pytest.approx(2 / 3) and f.recall == pytest.approx(2 / 4)


def test_build_is_deterministic_resumable_and_parallel(tmp_path):
    jobs = jobs_from_source("synthetic:4:5")
    full = tmp_path / "full"
    summary = build(jobs, full, seed=2, progress=False)
    assert summary["clips"] == 4 and summary["kept"] + summary["dropped"] == 4
    records = (full / INSTRUCTIONS_FILE).read_text()
    # interrupted run: two clips done, the third's records written but its QC line cut mid-write
    part = tmp_path / "part"
    build(jobs[:2], part, seed=2, progress=False)
    third = [line for line in records.splitlines() if json.loads(line)["clip_id"] == jobs[2].clip_id]
    with open(part / INSTRUCTIONS_FILE, "a") as f:
        f.write("\n".join(third) + "\n" + third[0][:40])
    with open(part / QC_FILE, "a") as f:
        f.write('{"clip": "synthetic/')
    build(jobs, part, seed=2, progress=False)
    assert (part / INSTRUCTIONS_FILE).read_text() == records
    ids = [json.loads(x)["id"] for x in records.splitlines()]
    assert len(ids) == len(set(ids))
    two = tmp_path / "two"
    build(jobs, two, seed=2, workers=2, progress=False)
    assert (two / INSTRUCTIONS_FILE).read_text() == records


def test_committed_sample_loads_with_datasets():
    import datasets

    path = SAMPLE / INSTRUCTIONS_FILE
    ds = datasets.load_dataset("json", data_files=str(path), split="train")
    assert len(ds) >= 40 and set(ds["type"]) == {"describe_motion", "name_aus", "classify_emotion", "structured", "contrast"}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        jsonschema.validate(record, SCHEMA)
        assert unbacked_claims(record) == []


@pytest.mark.parametrize("case", ["swapped_identity", "faceless", "contradicted_label", "clean"])
def test_quality_control_drops_bad_clips(tmp_path, happy_clip, case):
    import numpy as np

    from deft.instruct.build import Job, process
    from deft.video import write_video

    labels = {"aus": ("AU6", "AU12"), "emotion": "happiness", "composite": "positive"}
    frames = happy_clip.frames
    if case == "swapped_identity":
        other = render(SyntheticSpec(face="hopper", seed=9)).frames
        frames = np.concatenate([frames[:15], other[15:]])
    elif case == "faceless":
        frames = np.full_like(frames, 120)
    elif case == "contradicted_label":
        labels["aus"] = ("AU6", "AU12", "AU15")
    path = tmp_path / f"{case}.mp4"
    write_video(frames, path)
    records, qc = process(Job("fixture", "s1", case, path=str(path), **labels), seed=0)
    expected = {"swapped_identity": "identity changes", "faceless": "no face found",
                "contradicted_label": "labelled AU15 has no motion in its regions", "clean": None}[case]
    if expected is None:
        assert qc["kept"] and len(records) == 5 and qc["checks"]["same_identity"] < 0.6
    else:
        assert not qc["kept"] and records == [] and any(expected in r for r in qc["reasons"]), qc


def test_build_from_a_dataset_folder_of_videos(tmp_path, happy_mp4):
    """A plain folder of videos + CSV (the `folder` loader) goes through the same builder."""
    import shutil

    shutil.copy(happy_mp4, tmp_path / "c1.mp4")
    (tmp_path / "labels.csv").write_text("path,subject,onset,apex,offset,aus,emotion\nc1.mp4,p1,6,14,22,AU6+AU12,happiness\n")
    jobs = jobs_from_source(f"folder:{tmp_path}")
    assert [(j.subject, j.aus) for j in jobs] == [("p1", ("AU6", "AU12"))]
    summary = build(jobs, tmp_path / "out", progress=False)
    assert summary["kept"] == 1 and summary["records"] == 5
