"""Score a DeftModel on held-apart clips: heads (UF1, UAR, AU F1) and generated text (same + faithfulness)."""

from __future__ import annotations

import re

import torch

from deft.eval.metrics import au_f1, mean_au_f1, megc_scored, uar, uf1
from deft.instruct.claims import faithfulness, named_aus
from deft.labels import (AU_QUESTION, COMPOSITE_CLASSES, COMPOSITE_LABELS, DETECTED_AUS, EMOTION_QUESTION,
                         FINE_WITH_NONE, NONE, fine_target)
from deft.model.batch import collate
from deft.model.deft import DeftModel
from deft.train.data import TrainingSet


@torch.no_grad()
def evaluate_heads(model: DeftModel, data: TrainingSet) -> dict:
    model.eval()
    logits = model.classify(collate([c.features for c in data.clips]))[2]
    composite = [COMPOSITE_LABELS[i] for i in logits["composite"].argmax(1).tolist()]
    fine = [FINE_WITH_NONE[i] for i in logits["fine"].argmax(1).tolist()]
    aus = [{DETECTED_AUS[j] for j in range(len(DETECTED_AUS)) if p[j] > 0} for p in logits["aus"].tolist()]
    truth, composite = megc_scored([c.composite for c in data.clips], composite)
    return {
        "n_clips": len(data.clips), "composite_uf1": uf1(truth, composite), "composite_uar": uar(truth, composite),
        "fine_accuracy": _fine_accuracy(fine, [fine_target(c.emotion, c.composite) for c in data.clips]),
        "au_f1": mean_au_f1([c.aus for c in data.clips], aus, DETECTED_AUS),
        "per_au_f1": au_f1([c.aus for c in data.clips], aus, DETECTED_AUS),
    }


def _fine_accuracy(pred: list[str], truth: list[str | None]) -> float:
    """Share of right fine labels over the clips that have one (nan when none has)."""
    pairs = [(p, t) for p, t in zip(pred, truth) if t is not None]
    return sum(p == t for p, t in pairs) / len(pairs) if pairs else float("nan")


def composite_from_text(text: str) -> str:
    """The first composite class word the text names ('none' when it names none)."""
    hits = [(m.start(), label) for label in COMPOSITE_CLASSES for m in [re.search(rf"\b{label}\b", text, re.I)] if m]
    return min(hits)[1] if hits else NONE


@torch.no_grad()
def evaluate_text(model: DeftModel, data: TrainingSet, max_new_tokens: int = 120) -> dict:
    """Generate the emotion and AU answers per clip; score them like the heads, plus faithfulness."""
    model.eval()
    truth, pred, true_aus, pred_aus, precision, recall, samples = [], [], [], [], [], [], []
    for clip in data.clips:
        batch = collate([clip.features])
        emotion_text = model.generate(batch, EMOTION_QUESTION, max_new_tokens)
        au_text = model.generate(batch, AU_QUESTION, max_new_tokens)
        truth.append(clip.composite)
        pred.append(composite_from_text(emotion_text))
        true_aus.append(clip.aus)
        pred_aus.append(named_aus(au_text))
        evidence_regions = {r for regions in clip.detected.values() for r in regions}
        f = faithfulness(au_text + " " + emotion_text, set(clip.detected), evidence_regions)
        precision.append(f.precision)
        recall.append(f.recall)
        if len(samples) < 3:
            samples.append({"clip": clip.key, "emotion": emotion_text, "aus": au_text})
    n = max(len(true_aus), 1)
    truth, pred = megc_scored(truth, pred)
    return {
        "n_clips": len(true_aus), "composite_uf1": uf1(truth, pred), "composite_uar": uar(truth, pred),
        "au_f1": mean_au_f1(true_aus, pred_aus, DETECTED_AUS),
        "faithfulness_precision": sum(precision) / n, "faithfulness_recall": sum(recall) / n, "samples": samples,
    }
