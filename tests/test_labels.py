"""deft.labels: one vocabulary, and the one rule for `others` followed by every stage."""

import json

import numpy as np
import pytest
import torch

from deft.analyze import analyze_frames
from deft.aus import AUEvidence
from deft.data import casme2, casme3, samm
from deft.data.records import ClipRecord
from deft.data.synthetic import SyntheticSpec, emotion_of, render
from deft.emotion import classify_emotion
from deft.eval.metrics import megc_scored, uf1
from deft.instruct.build import INSTRUCTIONS_FILE, QC_FILE, build, features_path, jobs_from_source
from deft.instruct.builder import build_pairs
from deft.instruct.facts import ClipLabels, ground
from deft.instruct.templates import load_templates
from deft.labels import (AU_NAMES, COMPOSITE, COMPOSITE_CLASSES, CONTEMPT_AUS, DEFAULT_QUESTIONS, DETECTED_AUS,
                         FINE_LABELS, MEGC2019, ORDINARY_AUS, ORDINARY_KINDS, OTHERS, PROTOTYPES, RECIPES, UNILATERAL, clip_key, fine_label,
                         fine_target, megc_class,
                         prototype_label, record_key)
from deft.model.batch import IGNORE, targets
from deft.model.losses import classification
from deft.train.data import load_training_set
from tests.conftest import as_video
from tests.test_model import fake_features


def test_vocabulary_is_consistent():
    assert set(AU_NAMES) == {*DETECTED_AUS, *ORDINARY_AUS}
    assert set(COMPOSITE) == {*FINE_LABELS, "none"}
    assert {v for v in COMPOSITE.values() if v is not None} == {*COMPOSITE_CLASSES, "none"}
    aus_used = {au for protos in PROTOTYPES.values() for p in protos for au in p} | CONTEMPT_AUS
    assert aus_used <= {*DETECTED_AUS, *ORDINARY_AUS}
    # the ordinary AUs an expression may include (surprise: AU5, AU26) never make a canonical prototype
    assert all(not (protos[0] & (set(ORDINARY_AUS) - set(DETECTED_AUS))) for protos in PROTOTYPES.values())
    assert {"blink", "wink", "speech"} <= set(ORDINARY_KINDS)


@pytest.mark.parametrize("loader, dataset", [(casme2, "casme2"), (samm, "samm"), (casme3, "casme3")])
def test_every_dataset_label_has_an_explicit_megc_entry(loader, dataset):
    assert set(loader.EMOTIONS) == set(MEGC2019[dataset])  # each label mapped, or left out by name (None)
    assert set(MEGC2019[dataset].values()) <= {*COMPOSITE_CLASSES, None}


def test_others_has_no_composite_class_in_any_map():
    for dataset, table in MEGC2019.items():
        for label in ("other", "others", "Others", " OTHER "):
            assert megc_class(dataset, label) is None, (dataset, label)
        assert not any(label.startswith("other") for label, cls in table.items() if cls is not None)
    assert COMPOSITE[OTHERS] is None
    assert megc_class("folder", "sadness") == "negative" and megc_class("casme2", "sadness") is None


def test_generator_draws_its_recipes_from_the_prototypes():
    for label, recipes in RECIPES.items():
        for aus in recipes:
            if label in UNILATERAL:
                assert frozenset(aus) <= CONTEMPT_AUS and len(aus) == 1
            elif aus:
                assert frozenset(aus) in PROTOTYPES[label]
            assert prototype_label(aus, unilateral=label in UNILATERAL) == label


def test_rule_classifier_gives_others_no_composite():
    aus = [AUEvidence(n, AU_NAMES[n], 0.95, 0.02, "both", ["x"]) for n in ("AU2", "AU7", "AU10", "AU15", "AU17")]
    emotion = classify_emotion(aus)
    assert (emotion.fine, emotion.label) == (OTHERS, None)
    assert emotion.describe() == "no MEGC class (others)"
    assert emotion.to_dict()["label"] is None


def test_synthetic_others_has_no_composite():
    spec = SyntheticSpec(aus=(("AU2", 2.0), ("AU17", 2.0)), n_frames=8, onset=1, apex=3, offset=5)
    assert emotion_of(spec) == OTHERS
    clip = render(spec)
    assert (clip.emotion, clip.composite) == (OTHERS, None)


def test_builder_asks_no_emotion_question_about_others(happy_clip):
    g = ground(analyze_frames(as_video(happy_clip.frames)), ClipLabels({"AU6", "AU12"}, OTHERS, None))
    types = [r["type"] for r in build_pairs(g, {"dataset": "casme2", "subject": "sub01", "clip_id": "EP01"}, seed=1)]
    assert types == ["describe_motion", "name_aus", "structured"]


def test_training_leaves_others_out_of_the_composite_loss():
    y = targets([{"AU12"}, {"AU4"}], ["positive", None], ["happiness", OTHERS])
    assert y["composite"].tolist() == [0, IGNORE]
    logits = {"composite": torch.randn(2, 4), "fine": torch.randn(2, 10), "aus": torch.randn(2, 12)}
    only_first = classification({k: v[:1] for k, v in logits.items()}, {k: v[:1] for k, v in y.items()})
    assert torch.allclose(classification(logits, y)["composite"], only_first["composite"])
    first = {k: v[:1] for k, v in logits.items()}
    assert classification(first, targets([{"AU4"}], [None], [OTHERS]))["composite"].item() == 0.0  # not nan


@pytest.mark.parametrize("loader, dataset", [(casme2, "casme2"), (samm, "samm"), (casme3, "casme3")])
def test_every_dataset_label_gives_a_fine_target(loader, dataset):
    for label in loader.EMOTIONS:  # CAS(ME)³ "happy"/"sad" and SAMM "other" are fine labels under other words
        assert fine_target(label, megc_class(dataset, label)) in FINE_LABELS, (dataset, label)
    assert fine_label("Happy") == "happiness" and fine_label("other") == OTHERS


def test_smic_classes_name_no_fine_label_and_train_no_fine_loss():
    assert [fine_label(c) for c in ("positive", "negative", "surprise")] == [None, None, "surprise"]
    y = targets([{"AU4"}, {"AU12"}], ["negative", "positive"], [fine_target("negative", "negative"), "happiness"])
    assert y["fine"].tolist() == [IGNORE, 0]
    logits = {"composite": torch.randn(2, 4), "fine": torch.randn(2, 10), "aus": torch.randn(2, 12)}
    only_second = classification({k: v[1:] for k, v in logits.items()}, {k: v[1:] for k, v in y.items()})
    assert torch.allclose(classification(logits, y)["fine"], only_second["fine"])
    first = {k: v[:1] for k, v in logits.items()}
    assert classification(first, {k: v[:1] for k, v in y.items()})["fine"].item() == 0.0  # not nan


def test_training_set_keeps_others_without_composite(tmp_path):
    qc = {"dataset": "casme2", "subject": "sub01", "clip_id": "EP01", "kept": True, "detected": {},
          "labels": {"aus": ["AU4"], "emotion": OTHERS, "composite": None}}
    qc["clip"] = record_key(qc)
    (tmp_path / QC_FILE).write_text(json.dumps(qc) + "\n")
    (tmp_path / INSTRUCTIONS_FILE).write_text(json.dumps({**{k: qc[k] for k in ("dataset", "subject", "clip_id")},
                                                          "type": "name_aus"}) + "\n")
    path = features_path(tmp_path, "casme2", "sub01", "EP01")
    path.parent.mkdir()
    np.savez(path, **fake_features(1)[0].to_npz())
    data = load_training_set(tmp_path)
    assert [(c.key, c.emotion, c.composite) for c in data.clips] == [("casme2/sub01/EP01", OTHERS, None)]
    assert len(data.records) == 1


def test_megc_scores_leave_others_out():
    truth, pred = megc_scored(["positive", None, "negative"], ["positive", "negative", None])
    assert (truth, pred) == (["positive", "negative"], ["positive", None])
    assert uf1(truth, pred) == pytest.approx(0.5)


def test_one_clip_key_everywhere(tmp_path):
    record = ClipRecord("casme2", "sub01", "EP02_01f", "x", 1, 2, 3)
    assert record.key == clip_key("casme2", "sub01", "EP02_01f") == "casme2/sub01/EP02_01f"
    jobs = jobs_from_source("synthetic:1:3")
    build(jobs, tmp_path, progress=False)
    qc = json.loads((tmp_path / QC_FILE).read_text())
    assert qc["kept"], qc["reasons"]
    key = clip_key(jobs[0].dataset, jobs[0].subject, jobs[0].clip_id)
    assert qc["clip"] == record_key(qc) == key
    for line in (tmp_path / INSTRUCTIONS_FILE).read_text().splitlines():
        r = json.loads(line)
        assert record_key(r) == key and r["id"].startswith(key + "#")


def test_default_questions_are_trained_instructions():
    templates = load_templates()
    trained = {q for kind in templates.values() if isinstance(kind, dict) for q in kind.get("instructions", ())}
    assert set(DEFAULT_QUESTIONS) <= trained
