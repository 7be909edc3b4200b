"""Which expression AUs ordinary motion explains, so they are not read as an expression."""

from __future__ import annotations

from dataclasses import replace

from deft.aus import AUEvidence
from deft.ordinary.result import Ordinary
from deft.ordinary.separate import GROUPS, mismatch

# The flow rules read motion from the onset frame to the apex frame. Speech moves the lips, the jaw and
# with them the chin and the mouth corners' height: the rules see AU25 (lower lip away from the upper),
# AU15 (corners down) and AU17 (chin up as the jaw closes). A lone jaw drop also leaves the upper lip
# looking raised (AU10: the head-motion fit is pulled by the jaw). A closing lid drags the lower lid (AU7).
# A closing lid also drags the inner brows down (AU4 on a blink alone, on some faces every time); that AU4
# is set aside only when nothing else fired (EXPLAINS_ALONE): flow cannot tell it from a real AU4 under a
# blink, and setting every such AU4 aside lost more true expressions than false ones. Likewise speech's AU10
# (the upper lip moving with the syllables). Chosen by measurement on seed-shifted world sets (benchmarks/README, "ordinary motion").
EXPLAINS: dict[str, frozenset[str]] = {
    "speech": frozenset({"AU15", "AU17", "AU25"}),
    "jaw": frozenset({"AU10", "AU15", "AU17", "AU25"}),
    "blink": frozenset({"AU7"}),
    "wink": frozenset({"AU7"}),
    "closed": frozenset({"AU7"}),
}
# Speech's own AUs: the lips part and the chin works with every syllable, even where the landmarks' mouth opening
# matches at the two frames the flow compares: speech under way at the onset or apex sets them aside.
# Only AU15 and AU10 need the mouth to have moved between the frames. Measured on two dev sets (+777, +888):
# distractor-only clips with a fired AU 2/5 -> 0/5 each, AU F1 unchanged.
EXPLAINS_UNDER_WAY: dict[str, frozenset[str]] = {"speech": frozenset({"AU17", "AU25"})}
EXPLAINS_ALONE: dict[str, frozenset[str]] = {"speech": frozenset({"AU10"}),
                                             **{kind: frozenset({"AU4"}) for kind in ("blink", "wink", "closed")}}
# The mouth drags its corners down by a share of its opening, so speech explains AU15 only where the opening
# changed by half a syllable or more (mismatch in quarter syllables): a sad micro-expression's corners go down
# while the opening changes less. Measured on dev speech clips (benchmarks/README, "ordinary motion").
# Every other AU a kind explains needs its signal to have changed by more than MOVED (a quarter syllable or closure).
MOVED, MOVED_FOR = 1.0, {"AU15": 2.0}


def _change(ordinary: Ordinary, kind: str, onset: int, apex: int) -> float:
    """How far this kind's own signal changed between the two frames the flow compares (separate.py's mismatch
    units; unbounded where it was not measured). Speech and a jaw drop move the mouth, blinks the lids; a
    phase-matched reference leaves them as at the apex."""
    group = next((g for g, (kinds, _, _) in GROUPS.items() if kind in kinds), "mouth" if kind == "jaw" else None)
    return float("inf") if group is None or not ordinary.signals else mismatch(ordinary, group, onset, apex)


def explained_aus(ordinary: Ordinary, onset: int, apex: int, fired: set[str], margin: int = 1,
                  past_speech: frozenset[str] = frozenset()) -> dict[str, str]:
    """Fired expression AU -> the ordinary kind under way at the onset (the flow's reference) or apex frame
    (within `margin` frames) whose motion explains it: it moved between those two frames. Speech does not
    explain the AUs `past_speech` (they moved past it: deft.ordinary.beyond)."""
    out: dict[str, str] = {}
    alone: dict[str, str] = {}
    for event in ordinary.events:
        near = any(event.overlaps(t - margin, t + margin) for t in (onset, apex))
        candidates = fired - past_speech if event.kind == "speech" else fired
        for au in (EXPLAINS_UNDER_WAY.get(event.kind, frozenset()) & candidates) if near else ():
            out.setdefault(au, event.kind)
        change = _change(ordinary, event.kind, onset, apex) if near else 0.0
        if change > MOVED:
            for au in EXPLAINS.get(event.kind, frozenset()) & candidates:
                if change > MOVED_FOR.get(au, MOVED):
                    out.setdefault(au, event.kind)
            for au in EXPLAINS_ALONE.get(event.kind, frozenset()) & candidates:
                alone.setdefault(au, event.kind)
    if alone and fired - set(out) <= set(alone):
        out |= alone
    return out


def supporting_aus(ordinary: Ordinary, onset: int, offset: int) -> frozenset[str]:
    """Stated ordinary AUs under way during the expression that an expression may include: AU5, and AU26
    outside speech (a widening deft cannot tell from a head turn does not make a surprise)."""
    return frozenset(au for e in ordinary.stated() if e.kind in ("widen", "jaw") and e.overlaps(onset, offset)
                     for au in e.aus if au in ("AU5", "AU26"))


def set_aside(ordinary: Ordinary, all_aus: list[AUEvidence], phases: tuple[int, int, int],
              moved_past: dict[str, float] | None = None) -> list[AUEvidence]:
    """Record on `ordinary` the expression AUs its motion explains, in `ordinary.doubted` those only events deft
    cannot tell from a head turn explain (neither found nor ruled out), and in `ordinary.beyond` those of
    `moved_past` (AU -> ratio: moved past the speech, deft.ordinary.beyond) that speech would have explained and
    now does not; return the AU rules left for the expression."""
    onset, apex, _ = phases
    fired = {a.au for a in all_aus if a.fired}
    by_speech = {au for au, kind in explained_aus(ordinary, onset, apex, fired).items() if kind == "speech"}
    ordinary.beyond = {au: ratio for au, ratio in (moved_past or {}).items() if au in by_speech}
    past = frozenset(ordinary.beyond)
    ordinary.explained = explained_aus(ordinary, onset, apex, fired, past_speech=past)
    sure = explained_aus(replace(ordinary, events=ordinary.sure_moved()), onset, apex, fired, past_speech=past)
    ordinary.doubted = {au: kind for au, kind in ordinary.explained.items() if au not in sure}
    return [a for a in all_aus if a.au not in ordinary.explained]
