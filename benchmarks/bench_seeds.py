"""The two seed systems of issue 16, measured in one run.

1. Point clouds (deft.pointcloud): pre-training clouds come from the realistic world's own landmarks (no
   pixels; tracker-like jitter), fine-tuning and test clips are perceived: rendered, filmed, written as
   mp4, read back, tracked by deft's tracker, lifted to 3D with the fitted pose. Training identities and
   test identities are disjoint (cross-identity); the test clips are the held-apart world sets (`pose`,
   `all`, `clean`) on the held-out identities. Rows: the 2D-landmark baseline (eye-aligned, same motion
   features, MLP), the lifted 3D landmarks (MLP), and the Point-MAE encoder without pre-training, pre-trained
   without the domain adapter, pre-trained with it (fusion mode when fine-tuning).
2. Quantum (deft.quantum): positive vs negative synthetic clips, deft's motion features (the motion expert's
   input vector) reduced to 16 numbers; the triplet-trained encoding and amplitude encoding, each with the
   same VQC: trace-distance separability of the classes' density matrices, accuracy, depth, time.
Clips are cached under the temp dir (DEFT_SEEDS_CACHE overrides). Run: python benchmarks/bench_seeds.py
[--train-per-set N] [--test-per-set N] [--pretrain-clips N] [--quantum-clips N] [--save FOLDER]
[--only data|pointcloud|quantum]. The README's table: --train-per-set 20 --test-per-set 30.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deft.data.world.clips import WorldClipSpec
from deft.data.world.identity import IDENTITIES
from deft.pointcloud.clips import TRAIN_SETS, CloudClip, fresh_specs, perceived_clip, world_landmarks_clip
from deft.pointcloud.features import clip_input, frame_inputs, landmarks_2d
from deft.pointcloud.io import save_classifier
from deft.pointcloud.model import PointClassifier, PointMAE, PointMAEConfig
from deft.pointcloud.train import FitConfig, FlatClassifier, finetune, predict, pretrain, score, targets

TRAIN_IDS, TEST_IDS = IDENTITIES[:7], IDENTITIES[7:]
TEST_SETS = ("pose", "all", "clean")
CACHE = Path(os.environ.get("DEFT_SEEDS_CACHE", Path(tempfile.gettempdir()) / "deft-seeds-cache"))


def _cached(spec: WorldClipSpec, kind: str) -> CloudClip | None:
    """A clip's CloudClip from the cache, made on first use; None when the tracker never found the face."""
    key = hashlib.sha1(f"{kind}{spec!r}".encode()).hexdigest()[:16]
    path = CACHE / kind / f"{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    if kind == "perceived":
        clip = perceived_clip(spec)
    else:
        clip = world_landmarks_clip(spec, np.random.default_rng(spec.seed))
    if not np.isfinite(clip.clouds).all(axis=(1, 2)).any():
        clip = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(clip))
    return clip


def load(specs: list[WorldClipSpec], kind: str, label: str) -> list[CloudClip]:
    start = time.perf_counter()
    clips = [_cached(s, kind) for s in specs]
    kept = [c for c in clips if c is not None]
    print(f"{label}: {len(kept)} clips ({len(clips) - len(kept)} without a tracked face) "
          f"in {time.perf_counter() - start:.0f} s", flush=True)
    return kept


def datasets(args) -> dict[str, list]:
    data = {
        "pretrain": load(fresh_specs(TRAIN_SETS, args.pretrain_clips // len(TRAIN_SETS), TRAIN_IDS, 2 * 10**6),
                         "world", "pre-training clips (world landmarks)"),
        "train": load(fresh_specs(TRAIN_SETS, args.train_per_set, TRAIN_IDS, 10**6), "perceived",
                      "fine-tuning clips (perceived, training identities)"),
        "test": [], "test_sets": [],
    }
    for name in TEST_SETS:
        clips = load(fresh_specs((name,), args.test_per_set, TEST_IDS, 0), "perceived",
                     f"held-apart {name} clips (perceived, held-out identities)")
        data["test"] += clips
        data["test_sets"] += [name] * len(clips)
    return data


FRAME_STEP = 3  # pre-training takes every 3rd frame of a clip (neighbouring frames nearly repeat)
PRETRAIN = FitConfig(steps=500, batch_size=32, lr=1e-3)
FINETUNE = FitConfig(steps=300, batch_size=32, lr=5e-4)
FLAT = FitConfig(steps=400, batch_size=32, lr=1e-3)


def _pretrained(frames: np.ndarray, domains: np.ndarray, adapter: bool) -> tuple[PointMAE, float, float]:
    model = PointMAE(PointMAEConfig(use_adapter=adapter))
    start = time.perf_counter()
    curve = pretrain(model, frames, domains if adapter else None, PRETRAIN)
    return model, time.perf_counter() - start, float(np.mean(curve[-50:]))


def pointcloud_rows(data: dict[str, list], save: str | None = None) -> None:
    train, test = data["train"], data["test"]
    inputs = {
        "2d": [np.stack([clip_input(landmarks_2d(c.landmarks)) for c in clips]) for clips in (train, test)],
        "3d": [np.stack([clip_input(c.clouds) for c in clips]) for clips in (train, test)],
    }
    pre = [frame_inputs(c.clouds)[::FRAME_STEP] for c in data["pretrain"]]
    frames = np.concatenate(pre)
    domains = np.concatenate([np.full(len(f), c.domain) for f, c in zip(pre, data["pretrain"])])
    print(f"pre-training: {len(frames)} frames of {len(pre)} clips, {frames.shape[1]} points each, "
          f"{len(set(domains.tolist()))} domains; fine-tuning {len(train)} clips, test {len(test)} clips")
    labels = targets(train)
    rows = []

    def run(name: str, model, kind: str, cfg: FitConfig, pre_s: float = 0.0, note: str = "") -> None:
        x, t = inputs[kind]
        if kind == "3d" and isinstance(model, FlatClassifier):
            x, t = x[:, :68], t[:, :68]
        start = time.perf_counter()
        finetune(model, x, labels, cfg)
        seconds = time.perf_counter() - start
        preds = predict(model, t)
        per_set = {name: score([c for c, s in zip(test, sets) if s == name], [p for p, s in zip(preds, sets) if s == name])
                   for name in TEST_SETS}
        params = sum(p.numel() for p in model.parameters())
        rows.append((name, score(test, preds), per_set, params, pre_s, seconds, note))

    sets = data["test_sets"]
    run("2D landmarks (eye-aligned), MLP", FlatClassifier(68 * 4), "2d", FLAT)
    run("3D lifted landmarks, MLP", FlatClassifier(68 * 6), "3d", FLAT)
    run("Point-MAE, no pre-training", PointClassifier(PointMAE(PointMAEConfig(use_adapter=False)).encoder), "3d",
        FINETUNE)
    for adapter in (False, True):
        model, pre_s, chamfer = _pretrained(frames, domains, adapter)
        name = "Point-MAE, pre-trained + domain adapter (fusion)" if adapter else "Point-MAE, pre-trained, no adapter"
        classifier = PointClassifier(model.encoder)
        run(name, classifier, "3d", FINETUNE, pre_s, f"final Chamfer {chamfer:.3f}")
        if adapter and save:
            save_classifier(classifier, save)
    print("\n| model | params | fine acc | fine UF1 | composite acc | composite UF1 | AU F1 | "
          + " | ".join(f"composite UF1 {s}" for s in TEST_SETS) + " | pre-train s | fine-tune s |")
    print("|---" * (10 + len(TEST_SETS)) + "|")
    for name, m, per_set, params, pre_s, seconds, note in rows:
        print(f"| {name} | {params / 1e3:.0f} k | {m['fine_acc']:.3f} | {m['fine_uf1']:.3f} | {m['composite_acc']:.3f} | "
              f"{m['composite_uf1']:.3f} | {m['au_f1']:.3f} | "
              + " | ".join(f"{per_set[s]['composite_uf1']:.3f}" for s in TEST_SETS)
              + f" | {pre_s:.0f} | {seconds:.0f} |" + (f" {note}" if note else ""))


def _motion_set(n: int, seed: int):
    from deft.quantum.data import motion_set

    path = CACHE / "motion" / f"{n}-{seed}.pkl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(motion_set(n, seed)))
    return pickle.loads(path.read_bytes())


def quantum_rows(n_train: int, n_test: int) -> None:
    from deft.quantum.compare import compare_encodings

    start = time.perf_counter()
    train, test = _motion_set(n_train, 1), _motion_set(n_test, 2)
    print(f"\nquantum: positive vs negative, {len(train.labels)} training and {len(test.labels)} held-apart synthetic "
          f"clips, deft's motion features -> 16 PCA components, 4 qubits ({time.perf_counter() - start:.0f} s data)")
    reports = compare_encodings(train, test)
    print("| encoding | separability train | separability test | accuracy train | accuracy test | encoding depth "
          "(gates) | encoding + VQC depth (gates) | train s | simulate ms/clip |")
    print("|---" * 9 + "|")
    for r in reports:
        print(f"| {r.encoding} | {r.separability_train:.3f} | {r.separability_test:.3f} | {r.accuracy_train:.3f} | "
              f"{r.accuracy_test:.3f} | {r.encoding_depth} ({r.encoding_gates}) | {r.circuit_depth} ({r.circuit_gates}) "
              f"| {r.train_seconds:.0f} | {r.simulate_ms:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-per-set", type=int, default=40)
    parser.add_argument("--test-per-set", type=int, default=40)
    parser.add_argument("--pretrain-clips", type=int, default=1200)
    parser.add_argument("--quantum-clips", type=int, default=80, help="training clips of the quantum task")
    parser.add_argument("--quantum-test-clips", type=int, default=40)
    parser.add_argument("--save", help="write the pre-trained + adapter point-cloud model to this folder")
    parser.add_argument("--only", choices=("data", "pointcloud", "quantum"))
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    if args.only in (None, "data", "pointcloud"):
        data = datasets(args)
    if args.only in (None, "pointcloud"):
        pointcloud_rows(data, args.save)
    if args.only in (None, "quantum"):
        quantum_rows(args.quantum_clips, args.quantum_test_clips)
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
