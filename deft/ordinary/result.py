"""What deft found of ordinary face motion on one clip: the events and the AUs they carry."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deft.labels import AU_NAMES, au_number


# An eyelid event's `unsure` where its kind is in doubt (deft.ordinary.eyelids), not its being a closure.
KIND_UNSURE = ("deft cannot tell a blink from a wink here: the other eye's look changed about as much as the closing "
               "eye's, but mostly as the eye shifting by a pixel would (an open eye on a moving head, or a lid that "
               "closed by a pixel or two)")


@dataclass(frozen=True)
class OrdinaryEvent:
    """One interval of ordinary motion; frames index the analysed clip."""

    kind: str  # one of deft.labels.ORDINARY_KINDS: blink | wink | closed | widen | jaw | speech
    onset: int
    apex: int
    offset: int  # inclusive
    aus: tuple[str, ...]
    side: str = "both"  # "both" | "left" | "right" (the subject's sides)
    strength: float = 0.0  # peak of the signal that found it (closure score, or IOD for lids, lips, jaw)
    unsure: str = ""  # why deft cannot tell it from a head turn (deft.ordinary.doubt) or its kind; "" when it can

    def said_kind(self) -> str:
        """The kind as deft can state it: "blink or wink" where it cannot tell which (KIND_UNSURE)."""
        return "blink or wink" if self.unsure == KIND_UNSURE else self.kind

    def said_aus(self) -> str:
        """Its AUs as deft can state them: "AU45 or AU46" where it cannot tell a blink from a wink."""
        return "AU45 or AU46" if self.unsure == KIND_UNSURE else "+".join(self.aus)

    def overlaps(self, start: int, end: int) -> bool:
        return self.onset <= end and start <= self.offset

    def to_dict(self) -> dict:
        return {"kind": self.kind, "onset": self.onset, "apex": self.apex, "offset": self.offset,
                "aus": list(self.aus), "side": self.side, "strength": round(self.strength, 4), "unsure": self.unsure or None}


# A mouth AU kept past speech (Ordinary.beyond) by less than this many times what speech leaves moving may still be
# speech: the warnings say so, and deft does not move its reading to the spotter's runner-up for it (deft.analyze).
MAY_STILL_BE_SPEECH = 2.0


@dataclass
class Ordinary:
    """Every ordinary event of a clip, in frame order, and the expression AUs they explain."""

    events: list[OrdinaryEvent] = field(default_factory=list)
    explained: dict[str, str] = field(default_factory=dict)  # expression AU -> the kind whose motion explains it
    # Per-frame signals the events were read from (mouth, lips, jaw: IOD; closure_right/left: 1 - NCC); not serialised.
    signals: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    reference: int | None = None  # the flow's phase-matched reference frame when it is not the onset (separate.py)
    # expression AU -> times its regions' noise it moved with speech taken out (beyond.py), where speech would have
    # explained it and so now does not (explain.set_aside)
    beyond: dict[str, float] = field(default_factory=dict)
    # explained AU -> kind, where only events deft cannot tell from a head turn explain it (explain.set_aside)
    doubted: dict[str, str] = field(default_factory=dict)

    def maybe_speech(self) -> set[str]:
        """Expression AUs kept past speech only weakly (under MAY_STILL_BE_SPEECH): they may still be the talking."""
        return {au for au, ratio in self.beyond.items() if ratio < MAY_STILL_BE_SPEECH and au not in self.explained}

    def stated(self) -> list[OrdinaryEvent]:
        """The events deft states (an `unsure` one is found but not told from a head turn)."""
        return [e for e in self.events if not e.unsure]

    def sure_moved(self) -> list[OrdinaryEvent]:
        """The events deft is sure moved the face: the stated ones and those it cannot name (KIND_UNSURE: a lid
        closed, but deft cannot tell a blink from a wink)."""
        return [e for e in self.events if not e.unsure or e.unsure == KIND_UNSURE]

    def kinds(self, stated: bool = False) -> set[str]:
        """Every kind found (what the calibrated confidences were fitted with), or only the stated ones."""
        return {e.kind for e in (self.stated() if stated else self.events)}

    def aus(self) -> set[str]:
        """The ordinary AUs deft states."""
        return {au for e in self.stated() for au in e.aus}

    def aus_dict(self) -> list[dict]:
        """One entry per stated ordinary AU: its name, sides, kinds and frame intervals."""
        out: dict[str, dict] = {}
        for e in self.stated():
            for au in e.aus:
                entry = out.setdefault(au, {"au": au, "name": AU_NAMES[au], "kind": e.kind, "sides": [], "frames": []})
                entry["sides"] = sorted({*entry["sides"], e.side})
                entry["frames"].append([e.onset, e.offset])
        return [out[au] for au in sorted(out, key=au_number)]

    def warnings(self) -> list[str]:
        """Speech, eyelid events deft cannot tell from a head turn (or whose reason says what else it cannot tell
        them from: "deft cannot tell ..."), and any expression AU set aside because ordinary motion explains it."""
        out = [f"speech at frames {e.onset}-{e.offset} ({', '.join(e.aus)}): lip and jaw motion there is talking"
               for e in self.events if e.kind == "speech"]
        out += [f"{e.said_kind()} at frames {e.onset}-{e.offset} not stated as {e.said_aus()}, "
                + (e.unsure if e.unsure.startswith("deft cannot tell") else f"deft cannot tell it from head motion: {e.unsure}")
                for e in self.events if e.unsure]
        weak = self.maybe_speech()
        out += [f"{au} kept as expression though speech is under way: its rule still passes once the speech's fitted "
                f"motion is taken out ({ratio:.1f}x what that leaves moving outside the expression"
                + ("; so weak that it may still be speech)" if au in weak else ")")
                for au, ratio in self.beyond.items() if au not in self.explained]
        by_kind: dict[tuple[str, bool], list[str]] = {}
        for au, kind in sorted(self.explained.items(), key=lambda kv: au_number(kv[0])):
            by_kind.setdefault((kind, au in self.doubted), []).append(au)
        for (kind, doubted), aus in by_kind.items():
            out.append(f"{', '.join(aus)} not read as expression: " + (
                f"a {kind} deft cannot tell from head motion (see above) would explain the motion: neither found nor "
                "ruled out" if doubted else f"the {kind} at the onset or apex explains the motion"))
        return out

    def to_dict(self) -> dict:
        return {"events": [e.to_dict() for e in self.events], "aus": self.aus_dict(),
                "explained": dict(sorted(self.explained.items(), key=lambda kv: au_number(kv[0]))),
                "doubted": dict(sorted(self.doubted.items(), key=lambda kv: au_number(kv[0]))),
                "reference": self.reference, "beyond_speech": dict(self.beyond)}
