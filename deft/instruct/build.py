"""Recipe: clips -> analysis -> grounded facts -> dual-constraint check -> Uni-MER JSONL (resumable)."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from deft.errors import ConfigError, DeftError
from deft.labels import clip_key, record_key

INSTRUCTIONS_FILE = "instructions.jsonl"
QC_FILE = "qc.jsonl"


@dataclass(frozen=True)
class Job:
    """One clip to build from: a synthetic spec, or a dataset record's path with its labels."""

    dataset: str
    subject: str
    clip_id: str
    spec: object | None = None  # SyntheticSpec
    path: str | None = None
    aus: tuple[str, ...] = ()
    emotion: str = ""
    composite: str | None = None
    phases: tuple[int, int, int] | None = None
    record: object | None = None  # deft.data.records.ClipRecord: phases are mapped to frame indices in the worker
    world: object | None = None  # deft.data.world.clips.WorldClipSpec: written as mp4, analysed like a user's file


def synthetic_jobs(n_clips: int, seed: int) -> list[Job]:
    from deft.data.synthetic import synthetic_set

    return [Job("synthetic", s.face, f"syn{seed}_{i:04d}", spec=s) for i, s in enumerate(synthetic_set(n_clips, seed))]


def dataset_jobs(name_or_path: str, root: str | None = None) -> list[Job]:
    """Jobs for a real dataset folder (CASME II, SAMM, SMIC, CAS(ME)³, or videos + CSV); loader warnings go to stderr."""
    import sys

    from deft.data.datasets import load_dataset

    records = load_dataset(name_or_path, root)
    for warning in records.warnings:
        print(f"deft: {warning}", file=sys.stderr)
    return [Job(r.dataset, r.subject, r.clip_id, path=r.path, aus=tuple(r.aus), emotion=r.emotion,
                composite=r.composite, record=r) for r in records]


def jobs_from_source(source: str) -> list[Job]:
    """`synthetic:N[:SEED]`, `world:N[:SEED][:train|held]`, `NAME:ROOT` (casme2, samm, smic, casme3, folder)
    or a dataset folder (detected)."""
    if source.startswith("world:"):
        from deft.instruct.world_source import world_jobs

        parts = source.split(":")
        split = parts.pop() if parts[-1] in ("train", "held") else "train"
        try:
            if len(parts) > 3:
                raise ValueError(source)
            return world_jobs(int(parts[1]), split, int(parts[2]) if len(parts) > 2 else None)
        except (ValueError, IndexError):
            raise ConfigError(f"{source}: use world:N, world:N:SEED or world:N:SEED:train|held") from None
    if source.startswith("synthetic:"):
        parts = source.split(":")
        try:
            return synthetic_jobs(int(parts[1]), int(parts[2]) if len(parts) > 2 else 0)
        except (ValueError, IndexError):
            raise ConfigError(f"{source}: use synthetic:N or synthetic:N:SEED") from None
    name, sep, root = source.partition(":")
    if sep and not os.path.exists(source):
        return dataset_jobs(name, root)
    if os.path.isdir(source):
        return dataset_jobs(source)
    raise ConfigError(f"{source}: not a folder; use synthetic:N[:SEED], NAME:ROOT (casme2, samm, smic, casme3, folder) "
                      "or a dataset folder")


FEATURES_DIR = "features"
WORLD_IGNORED_CHECKS = ("landmarks_stable",)  # deft.data.quality checks a world clip need not pass


def features_path(out: str | os.PathLike, dataset: str, subject: str, clip_id: str) -> Path:
    """OUT/features/<dataset>__<subject>__<clip id>.npz ('/' in a folder dataset's ids becomes '__')."""
    name = "__".join((dataset, subject, clip_id)).replace("/", "__")
    return Path(out) / FEATURES_DIR / f"{name}.npz"


def _save_features(analysis, path: Path) -> None:
    """Expert inputs for training and the analysis JSON beside them (what the answer guard checks against),
    each written atomically (temp file, then rename)."""
    import numpy as np

    from deft.model.features import clip_features

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.json")
    tmp.write_text(json.dumps(analysis.to_dict()))
    tmp.replace(path.with_suffix(".json"))
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **clip_features(analysis).to_npz())
    tmp.replace(path)


def process(job: Job, seed: int, out: str | None = None) -> tuple[list[dict], dict]:
    """Build one clip's records and its QC line; a clip that fails QC yields no record.

    With `out`, the kept clip's expert inputs are saved under OUT/features/ for training.
    """
    from deft.analyze import analyze, analyze_frames
    from deft.instruct.builder import build_pairs
    from deft.instruct.facts import ClipLabels, ground
    from deft.video import Video

    from deft.data.quality import clip_quality

    qc = {"clip": clip_key(job.dataset, job.subject, job.clip_id), "subject": job.subject, "dataset": job.dataset,
          "clip_id": job.clip_id}
    try:
        if job.world is not None:
            from deft.instruct.world_source import analyze_world

            analysis, labels = analyze_world(job.world)
        elif job.spec is not None:
            from deft.data.synthetic import render

            clip = render(job.spec)
            analysis = analyze_frames(Video(clip.frames, 30.0, qc["clip"], "synthetic", (256, 256)))
            labels = ClipLabels(set(clip.au_names), clip.emotion, clip.composite)
        else:
            phases = job.record.phase_indices() if job.record is not None else job.phases
            analysis = analyze(job.path, phases=phases)
            labels = ClipLabels(set(job.aus), job.emotion, job.composite)
    except DeftError as err:
        return [], {**qc, "kept": False, "reasons": [str(err)]}
    quality = clip_quality(analysis.face)
    strict = job.world is not None  # the world's answers must hold under the answer guard: fired AUs only
    g = ground(analysis, labels, fired_only=strict)
    # A world head turns on purpose and its truth is exact: rigid landmarks moving in the crop are no
    # tracking failure there; the analysis' own `reliable` speaks for such clips.
    ignored = WORLD_IGNORED_CHECKS if strict else ()
    reasons = [c["detail"] for name, c in quality.checks.items() if not c["passed"] and name not in ignored] + [f"labelled {au} {'did not fire' if strict else 'has no motion in its regions'}"
                                 for au in g.unsupported_labels]
    reasons += [f"{'fired' if strict else 'strong'} {au} motion is not labelled" for au in g.unlabelled_motion]
    if strict:
        from deft.instruct.world_source import emotion_disagreement

        reasons += emotion_disagreement(analysis, labels)
    qc["checks"] = {name: c["value"] for name, c in quality.checks.items()}
    qc["labels"] = {"aus": sorted(labels.aus), "emotion": labels.emotion, "composite": labels.composite}
    qc["detected"] = {a.au: a.evidence for a in analysis.aus}  # measured evidence, for faithfulness scores
    if reasons:
        return [], {**qc, "kept": False, "reasons": reasons}
    meta = {"dataset": job.dataset, "subject": job.subject, "clip_id": job.clip_id}
    records = build_pairs(g, meta, seed)
    if out is not None:
        _save_features(analysis, features_path(out, job.dataset, job.subject, job.clip_id))
    return records, {**qc, "kept": True, "reasons": [], "n_records": len(records)}


def _done(out: Path) -> set[str]:
    """Clips already handled by an earlier run: those with a QC line (written after their records)."""
    done = set()
    qc_path = out / QC_FILE
    if qc_path.exists():
        for line in qc_path.read_text().splitlines():
            try:
                done.add(record_key(json.loads(line)))
            except (json.JSONDecodeError, KeyError):
                break  # a line cut by an interruption: everything after it is redone
    return done


def _drop_partial(out: Path, done: set[str]) -> None:
    """Remove records of clips with no QC line (an interrupted write), so nothing is written twice."""
    path = out / INSTRUCTIONS_FILE
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record_key(record) in done:
            keep.append(line)
    path.write_text("".join(x + "\n" for x in keep))
    qc = out / QC_FILE
    if qc.exists():
        lines = [x for x in qc.read_text().splitlines() if _is_json(x)]
        qc.write_text("".join(x + "\n" for x in lines))


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except json.JSONDecodeError:
        return False


def start_worker() -> None:
    """Pool initializer: imports and dlib models load while the other workers start too."""
    import cv2

    from deft.face import load_models

    cv2.setNumThreads(1)  # one process per core: OpenCV's own threads would only contend
    load_models()


def _work(args: tuple[Job, int, str | None]) -> tuple[list[dict], dict]:
    return process(*args)


def build(jobs: list[Job], out: str | os.PathLike, seed: int = 0, workers: int = 1, progress: bool = True,
          features: bool = False) -> dict:
    """Build every job into OUT/instructions.jsonl and OUT/qc.jsonl; rerunning resumes where it stopped.

    `features` also saves each kept clip's expert inputs under OUT/features/ (what `deft train` reads).
    """
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = _done(out)
    _drop_partial(out, done)
    todo = [j for j in jobs if clip_key(j.dataset, j.subject, j.clip_id) not in done]
    feature_out = str(out) if features else None
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="build-instructions", unit="clip", disable=not progress)
    with open(out / INSTRUCTIONS_FILE, "a") as records_f, open(out / QC_FILE, "a") as qc_f:
        if workers > 1:
            pool = get_context("spawn").Pool(workers, initializer=start_worker)
            results = pool.imap(_work, [(j, seed, feature_out) for j in todo])
        else:
            pool, results = None, (process(j, seed, feature_out) for j in todo)
        try:
            for records, qc in results:
                records_f.write("".join(json.dumps(r) + "\n" for r in records))
                records_f.flush()
                qc_f.write(json.dumps(qc) + "\n")  # the QC line marks the clip done: written last
                qc_f.flush()
                bar.update()
        finally:
            if pool is not None:
                pool.terminate()
            bar.close()
    return summarise(out)


PROVENANCE_FILE = "build.json"


def deft_commit() -> str | None:
    """The git commit deft runs from (its perception built the data), '+dirty' with local changes; None outside git."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", str(here.parent)],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def write_provenance(out: str | os.PathLike, source: str, features: bool, seed: int | None) -> dict:
    """OUT/build.json: the command that rebuilds this folder and the deft commit that built it (for the model card)."""
    command = f"deft build-instructions {source} --out OUT" + (" --features" if features else "") + (
        f" --seed {seed}" if seed is not None else "")
    provenance = {"source": source, "command": command, "deft_commit": deft_commit()}
    (Path(out) / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


def summarise(out: str | os.PathLike) -> dict:
    """QC summary: kept, dropped and why; written as OUT/qc_summary.json."""
    out = Path(out)
    lines = [json.loads(x) for x in (out / QC_FILE).read_text().splitlines() if x]
    reasons = Counter(re.sub(r"AU\d+", "AU", r) for x in lines for r in x["reasons"])
    summary = {
        "clips": len(lines), "kept": sum(x["kept"] for x in lines), "dropped": sum(not x["kept"] for x in lines),
        "records": sum(1 for _ in open(out / INSTRUCTIONS_FILE)), "drop_reasons": dict(reasons),
        "dropped_clips": {x["clip"]: x["reasons"] for x in lines if not x["kept"]},
    }
    (out / "qc_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
