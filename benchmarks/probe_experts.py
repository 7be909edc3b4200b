"""Linear probes on each expert's tokens: how much identity (and expression) one expert alone carries.

Run: python benchmarks/probe_experts.py HELD_DIR [MORE_DIRS] [--model FOLDER] [--folds 5]
(--model: a model folder, default the packaged checkpoint, or a `deft train --out` folder whose stage 1
finished: its experts_stage.pt)
(folders from `deft build-instructions world:N:SEED:held --out DIR --features`). Per folder and expert:
its tokens (T x D per clip, concatenated), standardised, a logistic regression, balanced accuracy by
stratified K-fold over the folder's clips; chance is 1 / classes. Targets: the identity, the photo it was
derived from (the world's identities come from two photos), the composite class. The disentanglement claim: the structure
expert carries identity, the motion expert should be near chance on it while it carries the expression.
"input" rows probe what each expert is fed (its arrays flattened), so a token row reads against its source.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deft.model.batch import collate
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.train.data import load_training_set
from deft.train.experts_stage import EXPERTS_DONE

DEFAULT_MODEL = os.path.join(os.path.dirname(__file__), "..", "deft", "checkpoints", "default")
EXPERT_INPUTS = {"structure": ("structure_image", "structure_vector"), "texture": ("texture",),
                 "motion": ("motion_maps", "motion_vector")}


def load_experts(folder: str) -> DeftModel:
    """The experts of a model folder, or of a training folder's finished stage 1 (no LLM either way)."""
    stage1 = os.path.join(folder, EXPERTS_DONE)
    if os.path.exists(os.path.join(folder, "config.json")) or not os.path.exists(stage1):
        return DeftModel.from_pretrained(folder, load_llm=False)
    state = torch.load(stage1, map_location="cpu", weights_only=True)
    adversary = state.get("heads.adversary.weight")
    model = DeftModel(DeftConfig(n_subjects=0 if adversary is None else adversary.shape[0]))
    missing = [k for k in model.load_state_dict(state, strict=False).missing_keys if not k.startswith("projector.")]
    if missing:
        raise SystemExit(f"{stage1}: lacks {missing[:3]}")
    return model.eval()


def probe(x: np.ndarray, y: list[str], folds: int) -> float:
    """Balanced accuracy of a cross-validated linear probe (nan when a class has under 2 clips)."""
    counts = np.unique(y, return_counts=True)[1]
    k = min(folds, int(counts.min()))
    if k < 2 or len(counts) < 2:
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    pred = cross_val_predict(clf, x, y, cv=StratifiedKFold(k, shuffle=True, random_state=0))
    return float(balanced_accuracy_score(y, pred))


@torch.no_grad()
def rows(model: DeftModel, folder: str, folds: int, inputs: bool = True) -> list[tuple[str, dict[str, float]]]:
    data = load_training_set(folder)
    batch = collate([c.features for c in data.clips])
    tokens = model.eval().encode(batch)
    targets = {"identity": [c.subject for c in data.clips], "photo": [c.subject.split("-")[0] for c in data.clips],
               "composite": [str(c.composite) for c in data.clips]}
    out = []
    for name in model.experts:
        sources = {"tokens": tokens[name].flatten(1).numpy()}
        if inputs:
            sources["input"] = np.concatenate([batch[k].flatten(1).numpy() for k in EXPERT_INPUTS[name]], axis=1)
        for kind, x in sources.items():
            out.append((f"{name} {kind}", {t: probe(x, y, folds) for t, y in targets.items()}))
    chance = {t: 1 / len(set(y)) for t, y in targets.items()}
    print(f"\n{folder}: {len(data.clips)} clips, {len(set(targets['identity']))} identities "
          f"({', '.join(sorted(set(targets['identity'])))}); chance: identity {chance['identity']:.3f}, "
          f"photo {chance['photo']:.3f}, composite {chance['composite']:.3f}")
    print(f"{'expert':<18} {'identity':>8} {'photo':>6} {'composite':>9}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tokens-only", action="store_true", help="skip the input rows (the same for every model)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_experts(args.model)
    print(f"model {os.path.normpath(args.model)}; linear probe, balanced accuracy, {args.folds}-fold CV; "
          f"load average {os.getloadavg()[0]:.2f}")
    for folder in args.folders:
        for name, scores in rows(model, folder, args.folds, not args.tokens_only):
            print(f"{name:<18} {scores['identity']:>8.3f} {scores['photo']:>6.3f} {scores['composite']:>9.3f}")


if __name__ == "__main__":
    main()
