"""Uni-MER from the realistic world: identities split apart, answers that name only what fired."""

import json

import pytest

from deft.analyze import analyze_frames
from deft.data.world.clips import SET_NAMES, world_set
from deft.data.world.dataset import HELD_IDENTITIES, TRAIN_IDENTITIES, world_specs
from deft.errors import ConfigError
from deft.instruct.build import INSTRUCTIONS_FILE, PROVENANCE_FILE, QC_FILE, build, features_path, jobs_from_source
from deft.instruct.claims import named_aus
from deft.instruct.facts import ClipLabels, ground
from tests.conftest import as_video


def test_training_and_held_apart_clips_share_no_identity_and_mix_every_set():
    train, held = world_specs(28, "train"), world_specs(14, "held")
    assert len(TRAIN_IDENTITIES) >= 8 and len(HELD_IDENTITIES) >= 8
    assert {s.identity for s in train} <= set(TRAIN_IDENTITIES) and {s.identity for s in held} <= set(HELD_IDENTITIES)
    assert not set(TRAIN_IDENTITIES) & set(HELD_IDENTITIES)
    assert not {s.seed for s in train} & {s.seed for s in held}
    named = {s.seed for name in SET_NAMES for s in world_set(name)}  # bench_realism's sets stay unseen
    assert not named & {s.seed for s in train + held}
    kinds = {s.distractors for s in train}
    assert {(), ("head",), ("speech",), ("blink", "wink", "widen")} <= kinds and len(kinds) == 5
    assert any(s.emotion is None for s in train) and any((s.camera.crf or 0) > 25 for s in train)
    assert world_specs(28, "train") == train  # fixed seeds: one command rebuilds the same clips


def test_world_sources():
    jobs = jobs_from_source("world:9:5:held")
    assert len(jobs) == 9 and {j.dataset for j in jobs} == {"world"}
    assert {j.subject for j in jobs} <= set(HELD_IDENTITIES) and all(j.world.identity == j.subject for j in jobs)
    assert {j.subject for j in jobs_from_source("world:9")} <= set(TRAIN_IDENTITIES)
    for bad in ("world:x", "world:3:y", "world:3:1:test"):
        with pytest.raises(ConfigError):
            jobs_from_source(bad)


def test_fired_only_grounding_names_exactly_the_fired_aus(happy_clip):
    analysis = analyze_frames(as_video(happy_clip.frames))
    fired = {a.au for a in analysis.aus}
    assert fired  # the happy clip fires under the calibrated default
    g = ground(analysis, ClipLabels(fired, "happiness", "positive"), fired_only=True)
    assert set(g.supported_aus) == fired and not g.unsupported_labels and not g.unlabelled_motion
    unfired = next(a.au for a in analysis.all_aus if a.au not in fired)
    one = sorted(fired)[0]
    g = ground(analysis, ClipLabels({one, unfired}, "happiness", "positive"), fired_only=True)
    assert g.unsupported_labels == [unfired] and g.supported_aus == [one]
    assert g.unlabelled_motion == sorted(fired - {one})  # any fired AU the labels lack, however weak


@pytest.mark.slow
def test_world_build_answers_agree_with_the_saved_analysis(tmp_path):
    jobs = jobs_from_source("world:22:400:train")
    summary = build([jobs[0], jobs[21]], tmp_path, features=True, progress=False)  # clean happiness; still face
    qc = [json.loads(x) for x in (tmp_path / QC_FILE).read_text().splitlines()]
    assert summary["clips"] == 2 and jobs[21].world.emotion is None
    records = [json.loads(x) for x in (tmp_path / INSTRUCTIONS_FILE).read_text().splitlines()]
    for line in qc:
        if not line["kept"]:
            continue
        analysis = json.loads(features_path(tmp_path, "world", line["subject"], line["clip_id"]).with_suffix(".json")
                              .read_text())
        fired = {a["au"] for a in analysis["aus"]}
        assert fired == set(line["labels"]["aus"])
        assert analysis["emotion"]["fine"] == line["labels"]["emotion"]
        for r in records:
            if r["clip_id"] == line["clip_id"] and r["type"] != "contrast":  # contrast also names absent AUs
                assert named_aus(r["answer"]) <= fired, r["answer"]
    assert qc[1]["kept"] and qc[1]["labels"]["composite"] == "none"  # the negative: nothing fired, nothing named


def test_provenance_reaches_the_model_card(tmp_path):
    from deft.instruct.build import write_provenance
    from deft.model.card import model_card
    from deft.model.config import DeftConfig

    build = write_provenance(tmp_path, "world:560:400:train", features=True, seed=None)
    assert json.loads((tmp_path / PROVENANCE_FILE).read_text()) == build
    assert build["command"] == "deft build-instructions world:560:400:train --out OUT --features"
    config = DeftConfig()
    config.extra.update({"data_build": {"train": build}, "notes": ["- probe: structure 1.0, motion 0.3"]})
    card = model_card(config)
    assert f"`{build['command']}` with deft's perception at commit `{build['deft_commit']}`" in card
    assert "- probe: structure 1.0, motion 0.3" in card
