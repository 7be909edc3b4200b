"""Score `deft analyze` on video files of known truth (the realistic world's clip sets, the old synthetic set).

One row per set: AU F1 on the AUs the analyzer can name, composite UF1/UAR, apex error, false positives
on distractor-only clips, clips/s. A clip the analyzer refuses (no face, too short, ...) counts as a
clip where nothing was found: no AUs, "none", apex missed.

Ordinary motion (blink, wink, speech, widen) is scored against its own truth, not as false positives:
its AUs (AU5, AU25, AU26, AU45, AU46) by their own F1, and per kind the share of clips that come out as
what they are (the kind found; on a distractor-only clip also read as "none"; a surprise clip: surprise).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from deft.analyze import AnalyzeConfig, analyze
from deft.detection_limit import EXPRESSION_AUS
from deft.errors import DeftError
from deft.eval.metrics import mean_au_f1, megc_scored, uar, uf1
from deft.labels import DETECTED_AUS, NONE, ORDINARY_AUS

PER_KIND = ("surprise", "blink", "wink", "speech", "widen")  # the "comes out as what it is" row


@dataclass(frozen=True)
class Case:
    """One clip file and its truth."""

    path: str
    aus: frozenset[str]  # the expression's AUs ({} for a distractor-only clip)
    composite: str | None  # positive | negative | surprise | none; None (`others`) is not scored
    apex: int | None  # frame index of the expression's apex; None: distractor-only
    ordinary: frozenset[str] = frozenset()  # ordinary kinds in the clip (blink, wink, speech, widen)
    ordinary_aus: frozenset[str] = frozenset()  # their AUs
    eye_events: tuple[tuple[str, int, int], ...] = ()  # (kind, onset, offset) of each blink, wink and widening
    apex_iod: tuple[tuple[str, float], ...] = ()  # (AU, apex intensity in IOD) of the expression, where the truth says

    @property
    def amplitudes(self) -> dict[str, float]:
        return dict(self.apex_iod)

    @property
    def distractor_only(self) -> bool:
        return self.apex is None


@dataclass
class SetScore:
    name: str
    n_clips: int
    n_failed: int  # clips the analyzer refused
    au_f1: float  # macro F1 over DETECTED_AUS present in the truth, every clip
    composite_uf1: float  # MEGC 2019 classes + none; a prediction of `others` (no class) is simply wrong
    composite_uar: float
    apex_median_abs: float  # median |predicted - true apex| in frames, expression clips analysed
    apex_within_2: float  # share of expression clips (refused ones count as misses) within +-2 frames
    fp_any_au: float  # share of distractor-only clips where any AU fired
    fp_emotion: float  # share of distractor-only clips not read as "none"
    fp: float  # share of distractor-only clips with an expression AU or an emotion other than "none"
    ordinary_au_f1: float  # macro F1 over ORDINARY_AUS present in the ordinary truth
    as_what_it_is: dict[str, float]  # PER_KIND -> share of clips with it that come out as it (NaN: none)
    ordinary_false: dict[str, float]  # kind -> share of clips without it where it was found
    clips_per_s: float  # analyze() throughput, reading the file included
    rows: list[dict] = field(repr=False, default_factory=list)
    # Eyelid events one by one (EYE_KINDS): kind -> (share of true events found, false events per clip),
    # of the events deft states and of every event it found (unsure ones too: deft.ordinary.doubt).
    eye_stated: dict[str, tuple[float, float]] = field(default_factory=dict)
    eye_found: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Honest "none" (deft.detection_limit): share of expression clips where no expression AU was found that were
    # said inconclusive, and of distractor-only clips; per true expression AU, the share found when it moved at
    # least its clip's detection limit and when it moved less (NaN: no such AU).
    missed_inconclusive: float = float("nan")
    distractor_inconclusive: float = float("nan")
    found_above_limit: float = float("nan")
    found_below_limit: float = float("nan")


ORDINARY_EVENT_KINDS = ("blink", "wink", "speech", "widen")  # the world's distractors that move the face itself
EYE_KINDS = ("blink", "wink", "widen", "closed")  # eyelid events scored one by one (the world films no AU43)
EVENT_MARGIN = 2  # frames: a found event overlapping a true one of its kind this closely found it


def case_of(path: str, truth: dict) -> Case:
    """A clip's case from its truth as `ClipTruth.to_dict()` (and `deft synth`) write it."""
    events = [e for e in truth["events"] if e["kind"] in ORDINARY_EVENT_KINDS]
    apex = truth["phases"]["apex"]
    return Case(path, frozenset(truth["aus"]), truth["composite"], apex, frozenset(e["kind"] for e in events),
                frozenset(au for e in events for au in e["aus"]),
                tuple((e["kind"], e["onset"], e["offset"]) for e in events if e["kind"] in EYE_KINDS),
                tuple((au, float(v)) for au, v in truth["aus"].items()) if isinstance(truth["aus"], dict) else ())


def analyze_cases(cases: list[Case], config: AnalyzeConfig = AnalyzeConfig()) -> tuple[list[dict], float]:
    """Run the analyzer on every case; returns one row per clip and the seconds spent analysing."""
    rows, seconds = [], 0.0
    for case in cases:
        start = time.perf_counter()
        try:
            result = analyze(case.path, config)
            pred_aus, pred, apex, error = {a.au for a in result.aus}, result.emotion.label, result.phases.apex, ""
            kinds, ordinary_aus = ((result.ordinary.kinds(stated=True), result.ordinary.aus()) if result.ordinary
                                   else (set(), set()))  # what deft states: an unsure event is not
            confidence = {a.au: a.confidence for a in result.all_aus}
            eyes = [(e.kind, e.onset, e.offset, bool(e.unsure)) for e in (result.ordinary.events if result.ordinary else [])
                    if e.kind in EYE_KINDS]
            inconclusive = bool(result.sensitivity and result.sensitivity.inconclusive)
            limits = dict(result.sensitivity.limits) if result.sensitivity else {}
        except DeftError as err:
            pred_aus, pred, apex, error = set(), NONE, None, f"{type(err).__name__}: {err}"
            kinds, ordinary_aus, confidence, eyes = set(), set(), {}, []
            inconclusive, limits = True, {}  # a refused clip says nothing about the face
        seconds += time.perf_counter() - start
        rows.append({"case": case, "pred_aus": pred_aus, "pred": pred, "pred_apex": apex, "error": error,
                     "pred_ordinary": kinds, "pred_ordinary_aus": ordinary_aus,
                     "confidence": confidence,  # every rule's confidence, fired or not (ECE)
                     "eye_events": eyes,  # (kind, onset, offset, unsure) of each eyelid event found
                     "inconclusive": inconclusive, "limits": limits})  # deft.detection_limit
    return rows, seconds


def score(name: str, rows: list[dict], seconds: float) -> SetScore:
    """The table row of one set."""
    cases = [r["case"] for r in rows]
    truth_aus = [set(c.aus) & set(DETECTED_AUS) for c in cases]
    pred_aus = [r["pred_aus"] for r in rows]
    truth, pred = megc_scored([c.composite for c in cases], [r["pred"] for r in rows])
    errors = [None if r["pred_apex"] is None else abs(r["pred_apex"] - r["case"].apex)
              for r in rows if not r["case"].distractor_only]
    measured = [e for e in errors if e is not None]
    probes = [r for r in rows if r["case"].distractor_only]
    return SetScore(
        name, len(rows), sum(bool(r["error"]) for r in rows), mean_au_f1(truth_aus, pred_aus, DETECTED_AUS),
        uf1(truth, pred), uar(truth, pred),
        float(np.median(measured)) if measured else float("nan"),
        float(np.mean([e is not None and e <= 2 for e in errors])) if errors else float("nan"),
        float(np.mean([bool(r["pred_aus"]) for r in probes])) if probes else float("nan"),
        float(np.mean([r["pred"] != NONE for r in probes])) if probes else float("nan"),
        float(np.mean([bool(r["pred_aus"]) or r["pred"] != NONE for r in probes])) if probes else float("nan"),
        mean_au_f1([set(c.ordinary_aus) for c in cases], [set(r.get("pred_ordinary_aus", ())) for r in rows], ORDINARY_AUS),
        {kind: _share([_as_what_it_is(kind, r) for r in rows if _has(kind, r["case"])]) for kind in PER_KIND},
        {kind: _share([kind in r.get("pred_ordinary", ()) for r in rows if kind not in r["case"].ordinary])
         for kind in PER_KIND[1:]},
        len(rows) / seconds if seconds else float("nan"), rows, eye_event_scores(rows, stated=True),
        eye_event_scores(rows, stated=False), *honest_none(rows),
    )


def honest_none(rows: list[dict]) -> tuple[float, float, float, float]:
    """(missed expression clips said inconclusive, distractor-only clips said inconclusive, true expression AUs
    found when they moved at least their clip's detection limit, found when they moved less); NaN where none."""
    expression = set(EXPRESSION_AUS)
    missed = [r.get("inconclusive", False) for r in rows
              if not r["case"].distractor_only and not (r["pred_aus"] & expression)]
    probes = [r.get("inconclusive", False) for r in rows if r["case"].distractor_only]
    above, below = [], []
    for r in rows:
        for au, amplitude in r["case"].amplitudes.items():
            if au in expression and au in r.get("limits", {}):
                (above if amplitude >= r["limits"][au] else below).append(au in r["pred_aus"])
    return _share(missed), _share(probes), _share(above), _share(below)


def eye_event_scores(rows: list[dict], stated: bool = True) -> dict[str, tuple[float, float]]:
    """Per eyelid kind: (share of the true events a found event of that kind overlaps, within EVENT_MARGIN frames;
    found events overlapping no true one, per clip). `stated`: only the events deft states (not `unsure`)."""
    near = lambda a, b: a[1] <= b[2] + EVENT_MARGIN and b[1] - EVENT_MARGIN <= a[2]  # noqa: E731
    out = {}
    for kind in EYE_KINDS:
        hits, n_true, false = 0, 0, 0
        for r in rows:
            truth = [e for e in r["case"].eye_events if e[0] == kind]
            found = [e for e in r.get("eye_events", ()) if e[0] == kind and not (stated and e[3])]
            hits += sum(any(near(f, t) for f in found) for t in truth)
            n_true += len(truth)
            false += sum(not any(near(f, t) for t in truth) for f in found)
        out[kind] = (hits / n_true if n_true else float("nan"), false / len(rows) if rows else float("nan"))
    return out


def _has(kind: str, case: Case) -> bool:
    return case.composite == kind if kind == "surprise" else kind in case.ordinary


def _as_what_it_is(kind: str, row: dict) -> bool:
    if kind == "surprise":
        return row["pred"] == "surprise"
    found = kind in row.get("pred_ordinary", ())
    return found and (not row["case"].distractor_only or (row["pred"] == NONE and not row["pred_aus"]))


def _share(hits: list[bool]) -> float:
    return float(np.mean(hits)) if hits else float("nan")
