"""Which of the all-together set's factors caps deft's AU reading: each factor taken away in turn.

Every expression clip of the `all` set (deft.data.world.clips.world_set, bench_realism's seeds unless
--seed-shift) is rendered again in variants of its spec: as filmed; compressed lightly (CRF 18); filmed by a
clean camera (no extra sensor noise, motion blur, flicker or lighting drift; the set's CRF kept); without head
motion, speech, eyelid events (blinks, winks, widening) or any distractor; with head motion alone, at the set's
CRF and at CRF 18. Each variant is written reproducibly (X264_REPRODUCIBLE) and analysed twice: with the true
phases (the AUs read where the expression peaked: what the measurement allows) and as a user runs it (spotted).
Columns: AU F1 (macro over the AUs deft names, as bench_realism) at the true phases and spotted.
Head motion and the expression are drawn first from each clip's seed, so variants that keep the head motion
show the same expression; without it the expression (same emotion, identity, camera) is drawn again.
Run: python benchmarks/ablate_world.py [--clips N] [--variants a,b] [--seed-shift N] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from bench_realism import load_note
from deft.analyze import analyze
from deft.data.world.clips import SET_SEEDS, WorldClipSpec, render_clip, world_set, write_clip
from deft.data.world.track import Camera
from deft.errors import DeftError
from deft.eval.metrics import mean_au_f1
from deft.labels import DETECTED_AUS

LIGHT_CRF = 18
EYELID = ("blink", "wink", "widen")


def _clean_camera(spec: WorldClipSpec) -> WorldClipSpec:
    return replace(spec, camera=replace(spec.camera, noise=Camera().noise, motion_blur=0.0, flicker=0.0, light_drift=0.0))


def _crf(spec: WorldClipSpec, crf: int) -> WorldClipSpec:
    return replace(spec, camera=replace(spec.camera, crf=crf))


def _without(*kinds: str) -> Callable[[WorldClipSpec], WorldClipSpec]:
    return lambda spec: replace(spec, distractors=tuple(d for d in spec.distractors if d not in kinds))


def _only_head(spec: WorldClipSpec) -> WorldClipSpec:
    return replace(spec, distractors=("head",))


VARIANTS: dict[str, Callable[[WorldClipSpec], WorldClipSpec]] = {
    "as filmed": lambda spec: spec,
    f"CRF {LIGHT_CRF}": lambda spec: _crf(spec, LIGHT_CRF),
    "clean camera": _clean_camera,
    "no head motion": _without("head"),
    "no speech": _without("speech"),
    "no eyelid events": _without(*EYELID),
    "no distractors": _without("head", "speech", *EYELID),
    "head motion only": _only_head,
    f"head motion only at CRF {LIGHT_CRF}": lambda spec: _crf(_only_head(spec), LIGHT_CRF),
}


def read_variant(specs: list[WorldClipSpec], vary: Callable[[WorldClipSpec], WorldClipSpec],
                 folder: Path) -> tuple[float, float]:
    """(AU F1 at the true phases, AU F1 spotted) of the clips `vary` makes of `specs`; a refused clip finds nothing."""
    truth, at_truth, spotted = [], [], []
    folder.mkdir(parents=True, exist_ok=True)
    for i, spec in enumerate(specs):
        clip = render_clip(vary(spec))
        path = str(folder / f"clip{i:03d}.mp4")
        write_clip(clip, path, reproducible=True)
        truth.append(set(clip.truth.aus) & set(DETECTED_AUS))
        for phases, found in ((clip.truth.phases, at_truth), (None, spotted)):
            try:
                found.append({a.au for a in analyze(path, phases=phases).aus})
            except DeftError:
                found.append(set())
    return mean_au_f1(truth, at_truth, DETECTED_AUS), mean_au_f1(truth, spotted, DETECTED_AUS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40, help="clips of the set drawn (its expression clips are read)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants")
    parser.add_argument("--seed-shift", type=int, default=0, help="draw other clips of the set (its seed + N)")
    parser.add_argument("--out", default=None, help="keep the written clips here (default: a temporary folder)")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    specs = [s for s in world_set("all", args.clips, seed=SET_SEEDS["all"] + args.seed_shift) if s.emotion is not None]
    print(f"== start: {len(specs)} expression clips of the all set (seed {SET_SEEDS['all'] + args.seed_shift}); "
          f"{load_note()}")
    print(f"{'variant':<28} {'AU F1 true phases':>17} {'spotted':>8} {'s':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for k, name in enumerate(names):
            start = time.perf_counter()
            true_f1, spotted_f1 = read_variant(specs, VARIANTS[name], Path(args.out or tmp) / f"variant{k}")
            print(f"{name:<28} {true_f1:>17.3f} {spotted_f1:>8.3f} {time.perf_counter() - start:>5.0f}", flush=True)
    print(f"at the end {load_note()}")


if __name__ == "__main__":
    main()
