"""Which expression AUs ordinary motion explains, so they are not read as an expression."""

from __future__ import annotations

from deft.aus import AUEvidence
from deft.ordinary.result import Ordinary

# The flow rules read motion from the onset frame to the apex frame. Speech moves the lips, the jaw and
# with them the chin and the mouth corners' height: the rules see AU25 (lower lip away from the upper),
# AU15 (corners down), AU17 (chin up when the jaw closes), AU10 (upper lip up). It does not pull the corners
# outward, so AU12 and AU14 stay. A lone jaw drop does the same (its AU10: the head-motion fit, pulled by
# the jaw, leaves the upper lip looking raised). A closing lid drags the lower lid (AU7) and the inner brows down and
# together (AU4: seen on world-rendered blinks with nothing else moving).
EXPLAINS: dict[str, frozenset[str]] = {
    "speech": frozenset({"AU10", "AU15", "AU17", "AU25"}),
    "jaw": frozenset({"AU10", "AU15", "AU17", "AU25"}),
    "blink": frozenset({"AU4", "AU7"}),
    "wink": frozenset({"AU4", "AU7"}),
    "closed": frozenset({"AU4", "AU7"}),
}


def explained_aus(ordinary: Ordinary, onset: int, apex: int, margin: int = 1) -> dict[str, str]:
    """Expression AU -> the ordinary kind under way at the onset or apex frame (within `margin` frames)."""
    out: dict[str, str] = {}
    for event in ordinary.events:
        if any(event.overlaps(t - margin, t + margin) for t in (onset, apex)):
            for au in EXPLAINS.get(event.kind, ()):
                out.setdefault(au, event.kind)
    return out


def supporting_aus(ordinary: Ordinary, onset: int, offset: int) -> frozenset[str]:
    """Ordinary AUs under way during the expression that an expression may include: AU5, and AU26 outside speech."""
    return frozenset(au for e in ordinary.events if e.kind in ("widen", "jaw") and e.overlaps(onset, offset)
                     for au in e.aus if au in ("AU5", "AU26"))


def set_aside(ordinary: Ordinary, all_aus: list[AUEvidence], phases: tuple[int, int, int]) -> list[AUEvidence]:
    """Record on `ordinary` the expression AUs its motion explains; return the AU rules left for the expression."""
    onset, apex, _ = phases
    ordinary.explained = {au: kind for au, kind in explained_aus(ordinary, onset, apex).items()
                          if any(a.au == au and a.confidence >= 0.5 for a in all_aus)}
    return [a for a in all_aus if a.au not in ordinary.explained]
