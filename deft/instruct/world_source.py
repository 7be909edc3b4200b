"""Uni-MER from the realistic world: each clip rendered, written as the mp4 a user would have, analysed
by `deft analyze`'s defaults, and labelled with the world's own truth."""

from __future__ import annotations

import os
import tempfile

from deft.analyze import Analysis, analyze
from deft.instruct.facts import ClipLabels

WORLD_DATASET = "world"


def world_jobs(n_clips: int, split: str = "train", seed: int | None = None) -> list:
    """Build jobs for `world_specs(n_clips, split, seed)`; the subject is the identity."""
    from deft.data.world.dataset import DEFAULT_SEEDS, world_specs
    from deft.instruct.build import Job

    tag = DEFAULT_SEEDS[split] if seed is None else seed
    return [Job(WORLD_DATASET, s.identity, f"{split}{tag}_{i:04d}", world=s)
            for i, s in enumerate(world_specs(n_clips, split, seed))]


def analyze_world(spec) -> tuple[Analysis, ClipLabels]:
    """Render, film and write the clip (H.264 at its camera's CRF), then analyse the file."""
    from deft.data.world.clips import render_clip, write_clip

    clip = render_clip(spec)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "clip.mp4")
        write_clip(clip, path)
        analysis = analyze(path)
    truth = clip.truth
    return analysis, ClipLabels(set(truth.aus), truth.emotion, truth.composite)


def emotion_disagreement(analysis: Analysis, labels: ClipLabels) -> list[str]:
    """The analysis' emotion against the label: an answer must state what both say. An inconclusive analysis
    (no AU found where one could have been missed) says no label, so an answer could not state one faithfully."""
    read = (analysis.emotion.fine, analysis.emotion.label)
    if analysis.emotion.inconclusive:
        return [f"analysis cannot tell the emotion (no expression AU found, but one may have been missed), "
                f"labelled {labels.emotion} ({labels.composite})"]
    if read == (labels.emotion, labels.composite):
        return []
    return [f"analysis reads {read[0]} ({read[1]}), labelled {labels.emotion} ({labels.composite})"]
