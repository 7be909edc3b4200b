"""The claims an answer makes about one clip, each with the measured fact it rests on (or none).

Checked on a text as it is generated (deft.model.guard): `final=False` reads the trailing, still
growing span as a prefix (an AU code, a number, a FACS name in brackets must be able to grow into
a measured one), so a decoder can refuse a token the moment it goes astray, and `check` says how much
of the text no later word can make unbacked (what may be streamed): all but the current word, a
phrase that may still become a FACS name or a longer direction, a number whose unit may follow, a
still region awaiting its "did not move", a direction awaiting its region. Facts are read from
`deft analyze`'s JSON by key, so new AUs, labels and keys (`reliable`) need no change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from deft.instruct.phrases import IMAGE_SIDE, REGION_BASES, REGION_PATTERNS, SIDELESS_PATTERNS
from deft.labels import AU_NAMES, NONE, OTHERS, describe_emotion

# No word boundary before "AU": "xAU4" still names AU4 to a reader.
AU_CODE = re.compile(r"(?:AU|\b[Aa]ction [Uu]nits?)[\s-]?(\d*)")  # "AU-10" is AU10 to a reader
AU_NUMBER = re.compile(r"AU[\s-]?(\d+)")  # an AU code with its number ("AU7", "AU 7", "AU-7")
AU_WITH_NAME = re.compile(r"AU\s?(\d+)\s*\(([^)]*)(\)?)")
AU_THE_NAME = re.compile(r"AU\s?(\d+),\s+the\s+([^,.;:()]*)([,.;:()]?)")  # "AU12, the lip corner puller, shows"
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?")
UNIT = re.compile(r"\s*(px\b|pixels?\b|IOD\b|inter-ocular|ms\b|milliseconds?\b|s\b|secs?\b|seconds?\b|%|per\s?cent\b)", re.I)
UNIT_KIND = {"px": "px", "pix": "px", "iod": "iod", "int": "iod", "ms": "ms", "mil": "ms", "%": "percent", "per": "percent"}
FRAME = re.compile(r"\bframes?\s+(?:#\s?)?$", re.I)
SENTENCE_END = re.compile(r"[.!?](?=\s)|[.!?]$")
CLAUSE_END = re.compile(r"[.;:!?](?=\s|$)")
NEGATION = re.compile(r"\b(?:not|no|never|absent|inactive|still|unchanged|at rest|isn't|wasn't|doesn't|didn't)\b", re.I)
_IMAGE = r"(?:to\s+)?" + re.escape(IMAGE_SIDE.removeprefix("to "))  # "... to the image right and the image left"
DIRECTION = re.compile(rf"\b(?:(up|down)(?:wards?)? and {_IMAGE} (left|right)|{_IMAGE} (left|right)|"
                       r"(up|down)(?:wards?)?|(in|out)wards?|"
                       r"(rais(?:e[sd]?|ing)|ris(?:es?|ing|en)|rose|lift(?:s|ed|ing)?)|"  # verbs: up
                       r"(lower(?:s|ed|ing)?(?!\s+(?:lip|lid|eyelid|face|half|part|jaw))|drop(?:s|ped|ping)?|fall(?:s|ing|en)?|fell|"
                       r"sinks?|sank|sunk))\b", re.I)  # verbs: down ("the lower lip" is a region)
# The subject's sides a text says moved: "the left side", "left-sided", "both sides", "bilateral", "unilateral".
SIDE = re.compile(r"\b(?:(left|right)(?:[- ]sided|\s+sides?)|(both|two)\s+sides|(bilateral|symmetric)(?:al)?(?:ly)?|"
                  r"(unilateral|asymmetric)(?:al)?(?:ly)?)\b", re.I)
ROLE_WORDS = (("onset", re.compile(r"\b(?:start|begin|onset)", re.I)), ("apex", re.compile(r"\b(?:peak|apex|strongest|maxim)", re.I)),
              ("offset", re.compile(r"\b(?:fade|end|offset|return|settle|stop|back)", re.I)))
# Emotion words -> the label they state (fine labels, their adjectives, the MEGC classes). "neutral" is the
# label none (nothing moved), not `others` (AUs moved, no prototype explains them); "none" and "others" count
# in brackets only, as deft writes a label ("no MEGC class (others)"), since both are common words.
EMOTION_WORDS = {**{w: w for w in ("happiness", "sadness", "surprise", "fear", "anger", "disgust", "contempt",
                                   "repression", "positive", "negative")},
                 "happy": "happiness", "sad": "sadness", "surprised": "surprise", "fearful": "fear", "afraid": "fear", "angry": "anger",
                 "disgusted": "disgust", "contemptuous": "contempt", "repressed": "repression", "neutral": NONE}
OTHERS_MEANS = "no emotion prototype fits these AUs"
# "none" and "others" are labels only where a verdict puts them: "(none)", "reads as none", "the emotion is none",
# "a none expression" (the Uni-MER template's own wording with the label filled in)
EMOTION = re.compile(r"\b(" + "|".join(sorted(EMOTION_WORDS, key=len, reverse=True)) + r")\b|"
                     rf"(?<=\()({NONE}|{OTHERS})(?=\))|(?<=\bas )({NONE}|{OTHERS})\b|"
                     rf"(?<=\bemotion is )({NONE}|{OTHERS})\b|\b({NONE}|{OTHERS})(?= expression)", re.I)
FINE_AFTER = re.compile(r"\b(positive|negative|surprise|others)\s*\((\w+)\)", re.I)
# The kind of motion a text says it was: micro or macro (quality.motion_kind; "longer" is neither).
MOTION_KIND = re.compile(r"\b(micro|macro)(?:[- ]?expressions?)?\b", re.I)
FACS_NAME = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(AU_NAMES.values(), key=len, reverse=True)) + r")\b",
                       re.I)
NAME_OWNER = {name.lower(): au for au, name in AU_NAMES.items()}
PX_KEYS, IOD_KEYS = ("mean_magnitude", "peak_magnitude"), ("mean_iod",)
EYE_PX_KEYS = ("iod_px", "crop_iod_px", "source_iod_px")  # the eye distance: the analysed crop's, the video's
EYE_WORDS = re.compile(r"\beyes?\b|inter-?ocular|\bIOD\b", re.I)  # a px number after these may be an eye distance
# Phrases whose verdict changes as they grow ("brow" -> "brow lowerer", "up" -> "up and to the image left",
# "lower" -> "lower lip"): a text ending in (a prefix of) one holds it back.
GROWING = sorted({*(n.lower() for n in AU_NAMES.values()), "action unit",
                  *(f"{side}{p.split(' (')[0]}" for p in REGION_BASES.values() for side in ("", "left ", "right ")),
                  *(f"{side}{w}" for side in ("left", "right") for w in (" side", "-sided", " sided")), "both sides",
                  *(f"{v}{w} and {IMAGE_SIDE} {h}" for v in ("up", "down") for w in ("", "ward", "wards")
                    for h in ("left", "right"))})
JOINED = re.compile(r"[\s,]*(?:(?:and|or|nor)\s+)?(?:(?:the|both|its|their)\s+)?", re.I)
UNIT_WORDS = ("px", "pixels", "iod", "inter-ocular", "s", "secs", "seconds", "ms", "milliseconds", "percent", "per cent")
TRAILING_WORD = re.compile(r"[\w.'-]*$")
NUMBER_AT_END = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(\s*)([A-Za-z -]*)$")


@dataclass
class ClipFacts:
    """What one analysis measured, as the checker reads it."""

    aus: dict[str, dict]  # fired AU -> its analysis entry
    regions: dict[str, dict]  # every region -> its entry
    moved: list[str]  # regions a fired AU cites as evidence
    emotion: dict
    phases: dict
    numbers: list[float]  # every measured number an answer may quote
    cautions: list[str] = field(default_factory=list)  # why the analysis may be unreliable
    expressive: bool = True  # an expression AU fired (not only ordinary motion: blinks, speech)
    times: list[float] = field(default_factory=list)  # s: onset, apex, offset, the durations between, motion_s
    percents: list[float] = field(default_factory=list)  # AU confidences, emotion scores, x 100
    expression: list[str] = field(default_factory=list)  # the fired expression AUs (not blinks, speech), in order
    inconclusive: str = ""  # why finding no expression AU does not mean there was none ('' where it does)
    eye_px: list[float] = field(default_factory=list)  # px: the eye distances (crop's, video's)
    motion_kind: str | None = None  # quality.motion_kind: micro | macro | longer (None: not measured)

    @classmethod
    def from_analysis(cls, analysis: dict) -> "ClipFacts":
        expression = {a["au"]: a for a in analysis.get("aus", [])}
        ordinary = {a["au"]: a for a in (analysis.get("ordinary") or {}).get("aus", [])}  # blinks, speech: named, too
        aus = {**ordinary, **expression}
        regions = {r["name"]: r for r in analysis.get("regions", [])}
        moved = list(dict.fromkeys(n for a in aus.values() for n in a.get("evidence", ()) if n in regions))
        phases = {k: analysis.get("phases", {}).get(k) for k in ("onset", "apex", "offset")}
        numbers = [float(v) for r in regions.values() for k, v in r.items() if k in (*PX_KEYS, *IOD_KEYS)]
        numbers += [float(v) for a in aus.values() for k, v in a.items() if isinstance(v, (int, float))]
        eye_px = [float(v) for v in (*(analysis.get(k) for k in EYE_PX_KEYS), (analysis.get("quality") or {}).get("iod_px"))
                  if v is not None]
        numbers += [float(v) for v in (*phases.values(), analysis.get("fps")) if v is not None] + eye_px
        cautions = list(analysis.get("warnings", []))
        if analysis.get("reliable") is False:
            cautions.insert(0, analysis.get("reliable_reason") or "the analysis marks itself unreliable")
        fps = analysis.get("sampled_fps") or analysis.get("fps")
        frames = [v for v in phases.values() if v is not None]
        times = [f / fps for f in frames] + [abs(a - b) / fps for a in frames for b in frames if a > b] if fps else []
        times += [v for v in [(analysis.get("quality") or {}).get("motion_s")] if v is not None]
        emotion = analysis.get("emotion", {})
        percents = [100 * float(a["confidence"]) for a in aus.values() if "confidence" in a]
        if not emotion.get("inconclusive"):  # equal scores there say "no evidence", not a measured share
            percents += [100 * float(v) for k in ("scores", "fine_scores") for v in (emotion.get(k) or {}).values()]
        reason = analysis.get("inconclusive_reason") or "no expression AU was found, but one may have been missed"
        return cls(aus, regions, moved, emotion, phases, numbers, cautions, bool(expression), times, percents,
                   list(expression), reason if analysis.get("inconclusive") or emotion.get("inconclusive") else "", eye_px,
                   (analysis.get("quality") or {}).get("motion_kind") or None)

    @property
    def labels(self) -> set[str]:
        """The emotion labels the analysis states: fine and MEGC class; none where it cannot tell (`none` there
        means nothing was found, and an answer saying "neutral" or "(none)" would claim no expression)."""
        if self.inconclusive:
            return set()
        return {v for v in (self.emotion.get("fine"), self.emotion.get("label")) if v}


@dataclass
class Claim:
    kind: str  # au, name, region, direction, px, iod, frame, emotion, side, motion
    text: str
    start: int  # where a decoder must change course when the claim is unbacked
    fact: dict | None  # the measured fact it rests on; None = unbacked
    pending: bool = False  # its verdict waits for text still to come (only while the text is being written)
    fix: str | None = None  # the measured text to write from `start` instead, where the facts leave one choice

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "fact": self.fact}


def _found(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    found: list[Claim] = []
    for check in (_aus, _names, _regions, _directions, _numbers, _emotions, _sides, _motion_kinds):
        found += check(text, facts, final)
    return sorted(found, key=lambda c: c.start)


def claims(text: str, facts: ClipFacts, final: bool = True) -> list[Claim]:
    """Every claim in `text`, in order; with final=False the trailing span is checked as a prefix."""
    return [c for c in _found(text, facts, final) if not c.pending]


@dataclass
class Verdict:
    bad: int | None  # where the first unbacked claim begins to go wrong (None: all backed so far)
    safe: int  # text[:safe] holds no claim a later word can make unbacked: it may be streamed
    fix: str | None = None  # what to write at `bad` instead: the analysis' label, a phase's frame
    fix_once: bool = False  # the fix is the emotion label: written in once per answer, then banned


def check(text: str, facts: ClipFacts, final: bool = False) -> Verdict:
    """The claim check of a text being written (final=False) or whole: where it goes wrong, what is safe."""
    found = _found(text, facts, final)
    bad = [c for c in found if c.fact is None and not c.pending]
    first = min(bad, key=lambda c: c.start) if bad else None
    label = _label_fix(text, first, found, facts) if first else None
    fix, once = (label, True) if label else (first.fix if first else None, False)
    if final:
        return Verdict(first.start if first else None, len(text), fix, once)
    # The word being written may become another; an AU code too ("AU4" may end as AU45 or fail, and a guard
    # that cannot finish it must be able to take it back).
    safe = min([TRAILING_WORD.search(text).start(), _growing(text), *(c.start for c in found if c.pending)])
    return Verdict(first.start if first else None, safe, fix, once)


def _label_fix(text: str, first: Claim, found: list[Claim], facts: ClipFacts) -> str | None:
    """The analysis' label ("positive (happiness)", "no MEGC class (others)") where the answer's first emotion
    verdict names another; None when an emotion was already stated right or the sentence negates it ("not
    surprise": a ban suffices) or the analysis has no emotion."""
    fine = facts.emotion.get("fine")
    if first.kind != "emotion" or not facts.labels or any(c.kind == "emotion" and c.fact for c in found if c.start < first.start):
        return None
    s0 = _sentence_start(text, first.start)
    if NEGATION.search(text[s0: first.start]):
        return None
    label = facts.emotion.get("label")
    # `others` in a sentence of its own: after the bare label a model never taught it wanders off
    return describe_emotion(label, fine) + (f": {OTHERS_MEANS}." if label is None else "")


def first_unbacked(text: str, facts: ClipFacts, final: bool = False) -> int | None:
    """The character where the first unbacked claim begins to go wrong, or None."""
    return check(text, facts, final).bad


def sentence_ends(text: str) -> list[int]:
    """Where each whole sentence of a text being written ends (a last "10." may yet become "10.5")."""
    return [m.end() for m in re.finditer(r"[.!?](?=\s)", text)]


def ends_whole(text: str) -> bool:
    """A finished answer ends as a whole sentence (or a whole JSON object)."""
    return text.rstrip().endswith((".", "!", "?", "}"))


def _growing(text: str) -> int:
    """Start of a trailing span that may still grow into a GROWING phrase or a number's unit, else len(text)."""
    number = NUMBER_AT_END.search(text)
    if number and any(u.startswith(number.group(2).lower()) for u in UNIT_WORDS):  # "per c" -> "per cent"
        return number.start()
    base = max(0, len(text) - 40)  # every GROWING phrase is shorter
    for m in re.finditer(r"\b\w", text[base:]):
        tail = re.sub(r"\s+", " ", text[base + m.start():]).lower()
        if any(p.startswith(tail) for p in GROWING):
            return base + m.start()
    return len(text)


def _named(facts: ClipFacts) -> str:
    """Every AU the analysis states, with its name: "AU12 (lip corner puller) and AU45 (blink)"."""
    return " and ".join(f"{au} ({a.get('name') or AU_NAMES.get(au, au)})" for au, a in facts.aus.items())


def caveat(facts: ClipFacts) -> str | None:
    """A plain sentence when the analysis cannot tell, said before (or instead of) the model's answer."""
    if facts.inconclusive and not facts.expressive:
        seen = _named(facts)
        return (f"deft cannot tell whether there was an expression: {facts.inconclusive}"
                + (f". Only ordinary face motion was measured ({seen})." if seen else "."))
    if not facts.aus:
        return "Nothing moved measurably in this clip: no Action Unit fired, so there is no expression to explain."
    if not facts.expressive:
        seen = _named(facts)
        return f"Only ordinary face motion was measured ({seen}): no expression AU fired, so there is none to explain."
    if facts.cautions:
        return f"The analysis of this clip may be unreliable ({'; '.join(facts.cautions)}), so take this with caution."
    return None


def summary(facts: ClipFacts) -> str:
    """The facts in one plain sentence: the answer when the model gives none."""
    aus = _named(facts)
    fine, label = facts.emotion.get("fine"), facts.emotion.get("label")
    emotion = f"; the analysis reads {label} ({fine})" if label and fine and facts.labels else ""
    return f"{aus} fired{emotion}." if aus else caveat(facts) or ""


def _closed(text: str, start: int, final: bool) -> tuple[str, bool]:
    """The clause from `start` (while it grows, without its last, unfinished word) and whether it has ended."""
    m = CLAUSE_END.search(text, start)
    if m:
        return text[start: m.start()], True
    return (text[start:], True) if final else (text[start: max(start, TRAILING_WORD.search(text).start())], False)


def _prefix_ok(partial: str, candidates: list[str]) -> int:
    """Length of the longest common prefix of `partial` with any candidate."""
    best = 0
    for c in candidates:
        n = 0
        while n < min(len(c), len(partial)) and c[n].lower() == partial[n].lower():
            n += 1
        best = max(best, n)
    return best


def _aus(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    out = []
    fired = [a[2:] for a in facts.aus]
    for m in AU_CODE.finditer(text):
        digits, open_end = m.group(1), m.end() == len(text) and not final
        if not digits:
            if open_end and not m.group(0).lower().startswith("action") and not fired:
                out.append(Claim("au", m.group(0), m.start(), None))  # no AU fired: no code can follow
            elif m.group(0).startswith("AU") and re.match(r"[\s-]*[A-Za-z]", text[m.end():]):
                out.append(Claim("au", m.group(0), m.start(), None))  # "AU FA25": a code gone astray
            continue
        if open_end:
            n = _prefix_ok(digits, fired)
            if n < len(digits) or not any(f.startswith(digits) for f in fired):
                out.append(Claim("au", m.group(0), m.start(1) + n, None))
            continue
        au = f"AU{int(digits)}"
        entry = facts.aus.get(au)
        if entry is None:
            out.append(Claim("au", m.group(0), m.start(1) + _prefix_ok(digits, fired), None))
            continue
        s0 = _sentence_start(text, m.start())
        if any(f"AU{int(d)}" == au for d in AU_NUMBER.findall(text, s0, m.start())):
            # named again in one sentence ("the reason is AU7 and AU7"): refused at its code (text before it
            # may have been called safe to stream), so the model goes on without it
            out.append(Claim("au", m.group(0), m.start(), None))
            continue
        clause, _ = _closed(text, m.end(), final)
        neg = NEGATION.search(re.split(r"AU\s?\d", clause)[0])  # a negation is refused where it is written
        out.append(Claim("au", m.group(0), m.end() + neg.start() if neg else m.start(),
                         None if neg else {k: entry.get(k) for k in ("au", "name", "side", "strength_iod", "evidence")}))
    return out


def _names(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    out = []
    for m in AU_WITH_NAME.finditer(text):  # the words in brackets after a code: its name from the table
        au, inside = f"AU{int(m.group(1))}", m.group(2)
        name = AU_NAMES.get(au)
        if name is None or au not in facts.aus:
            continue  # the code itself is unbacked (_aus)
        closed = bool(m.group(3)) or final
        n = _prefix_ok(inside, [name])
        if n < len(inside) or (closed and inside.lower() != name.lower()):
            out.append(Claim("name", m.group(0), m.start(2) + n, None))
        elif not closed:  # held back whole, so a decoder that cannot finish it may still take the bracket back
            out.append(Claim("name", m.group(0), m.end(1), None, pending=True))
    for m in AU_THE_NAME.finditer(text):  # "AU12, the ...": the name must follow, from the table
        au, said = f"AU{int(m.group(1))}", m.group(2)
        name = AU_NAMES.get(au)
        if name is None or au not in facts.aus:
            continue
        n = _prefix_ok(said, [name])
        whole = said.lower().startswith(name.lower()) and re.match(r"\W|$", said[len(name):])
        if not whole and (n < min(len(said), len(name)) or m.group(3) or final):  # went astray, or ended short
            out.append(Claim("name", m.group(0), m.start(2) + n, None))
        elif not whole:  # may still become the name: held back whole, so a guard can take it back
            out.append(Claim("name", m.group(0), m.start(2), None, pending=True))
    for m in FACS_NAME.finditer(text):
        if m.end() == len(text) and not final:
            continue  # "lip corner pull" may grow into "lip corner puller"
        au = NAME_OWNER[m.group(1).lower()]
        before = re.search(r"AU\s?(\d+)\s*(?:\(|,\s*(?:the\s+)?|:\s*|-\s*)$", text[: m.start()])
        wrong_code = before is not None and f"AU{int(before.group(1))}" != au
        ok = au in facts.aus and not wrong_code
        out.append(Claim("name", m.group(0), m.start(), {"au": au, "name": AU_NAMES[au]} if ok else None))
    return out


def _region_spans(text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, region names) of each region mention: sided phrases first, then sideless ones (both
    sides); words inside a FACS name ("cheek raiser") are the name's, not a region's."""
    spans: list[tuple[int, int, list[str]]] = []
    taken = [(m.start(), m.end()) for m in FACS_NAME.finditer(text)]
    patterns = [(p, [name]) for name, p in REGION_PATTERNS]
    patterns += [(p, [n for b in bases for n in (b, f"{b}_left", f"{b}_right")]) for p, bases in SIDELESS_PATTERNS]
    for pattern, names in patterns:
        for m in pattern.finditer(text):
            if not any(s < m.end() and m.start() < e for s, e in taken):
                spans.append((m.start(), m.end(), names))
                taken.append((m.start(), m.end()))
    return sorted(spans)


def _regions(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    out = []
    spans = _region_spans(text)
    for start, end, names in spans:
        if end == len(text) and not final:
            out.append(Claim("region", text[start:end], start, None, pending=True))
            continue
        clause, ended = _closed(text, end, final)
        moved = [n for n in names if n in facts.moved]
        still = NEGATION.search(clause[: _own_part(text, end, spans)])
        fact = {"regions": moved or [n for n in names if n in facts.regions], "moved": bool(moved)}
        if moved:  # a moved region said to stay still: refused at the negation, where it goes wrong
            out.append(Claim("region", text[start:end], end + still.start() if still else start, None if still else fact))
        elif still or ended:
            out.append(Claim("region", text[start:end], start, fact if still else None))
        else:  # a region that did not move: backed only once its clause says so
            out.append(Claim("region", text[start:end], start, None, pending=True))
    return out


def _own_part(text: str, end: int, spans) -> int:
    """Length of the clause after a region mention that speaks of it: up to the next region named apart
    ("the lips moved while the chin stayed still"), not one joined to it ("the chin and the lips did not")."""
    reach = end
    for s, e, _ in spans:
        if s >= reach:
            if not JOINED.fullmatch(text[reach:s]):
                return s - end
            reach = e
    return len(text)


def _directions(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    out = []
    spans = _region_spans(text)
    names = [(n.start(), n.end()) for n in FACS_NAME.finditer(text)]
    for m in DIRECTION.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in names):
            continue  # "jaw drop" is AU26's name, not a direction
        if not final and re.fullmatch(r"\s*\w*", text[m.end():]):  # "lower" may be "lower lip"
            out.append(Claim("direction", m.group(0), m.start(), None, pending=True))
            continue
        s0 = _sentence_start(text, m.start())
        sentence_end = SENTENCE_END.search(text, m.end())
        if sentence_end and sentence_end.end() == len(text) and not final:
            sentence_end = None  # a last "." may be a decimal point
        prev_dir = max((d.end() for d in DIRECTION.finditer(text, s0, m.start())), default=s0)
        # it describes the regions named since the last direction, else the sentence's last ones, else the next
        group = [names for s, e, names in spans if prev_dir <= s and e <= m.start()]
        group = group or [names for s, e, names in spans if s0 <= s and e <= m.start()][-1:]
        if not group:
            if sentence_end is None and not final:  # the regions it describes may follow
                out.append(Claim("direction", m.group(0), m.start(), None, pending=True))
                continue
            stop = sentence_end.start() if sentence_end else len(text)
            group = [names for s, e, names in spans if m.end() <= s and e <= stop][:1]
        vertical = (m.group(1) or m.group(4) or ("up" if m.group(6) else "down" if m.group(7) else "")).lower() or None
        horizontal = (m.group(2) or m.group(3) or "").lower() or None
        lateral = f"{m.group(5).lower()}ward" if m.group(5) else None
        measured = [facts.regions[n] for names in group for n in names if n in facts.moved]
        agree = [_agrees(r, vertical, horizontal, lateral) for r in measured or [facts.regions[n] for n in facts.moved]]
        ok = bool(agree) and (all(agree) if measured else any(agree))  # no region named: one that moved so
        fact = {"regions": {r["name"]: r.get("direction") if not lateral else r.get("lateral") for r in measured}}
        out.append(Claim("direction", m.group(0), m.start(), fact if ok else None))
    return out


def _agrees(region: dict, vertical: str | None, horizontal: str | None, lateral: str | None) -> bool:
    if lateral:
        return region.get("lateral") == lateral
    parts = set(str(region.get("direction", "")).split("-"))
    return (vertical is None or vertical in parts) and (horizontal is None or horizontal in parts)


def _renderings(values: list[float]) -> list[str]:
    return [f"{v:.{d}f}" for v in values for d in range(5)] + [str(v) for v in values]


def _matches(written: str, value: float) -> bool:
    decimals = len(written.split(".")[1]) if "." in written else 0
    return abs(float(written) - value) <= 0.5 * 10 ** -decimals + 1e-9


def _numbers(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    out = []
    au_digits = {m.start(1) for m in AU_CODE.finditer(text) if m.group(1)}
    spans = _region_spans(text)
    for m in NUMBER.finditer(text):
        if m.start() in au_digits:
            continue
        written = m.group(0).rstrip(".")
        open_end = m.end() == len(text) and not final
        frame = FRAME.search(text[: m.start()])
        if frame:
            values, kind, fact = _frame_values(text, m.start(), facts)
        else:
            unit = UNIT.match(text, m.end())
            kind = UNIT_KIND.get(unit.group(1)[:3].lower(), "s") if unit else "number"
            values, fact = _unit_values(text, m.start(), kind, spans, facts)
        if open_end:  # still being written: it must be able to grow into a measured value
            n = _prefix_ok(m.group(0), _renderings(values))
            if n < len(m.group(0)):
                out.append(Claim(kind, m.group(0), m.start() + n, None, fix=_frame_fix(frame, values, m.group(0)[:n])))
            continue
        hit = next((v for v in values if _matches(written, v)), None)
        if hit is None or (frame and "." in written):
            n = _prefix_ok(written, _renderings(values))
            out.append(Claim(kind, written, m.start() + n, None, fix=_frame_fix(frame, values, written[:n])))
        elif kind != "number" or frame:
            out.append(Claim(kind, written, m.start(), {**fact, "value": hit}))
    return out


def _frame_fix(frame, values: list[float], said: str) -> str | None:
    """The rest of the one frame a phase word asks for ("starts at frame 1" -> "4" when the onset is 14)."""
    if not frame or len(values) != 1:
        return None
    whole = str(int(values[0]))
    return whole[len(said):] if whole.startswith(said) and len(whole) > len(said) else None


def _frame_values(text: str, at: int, facts: ClipFacts) -> tuple[list[float], str, dict]:
    s0 = _sentence_start(text, at)
    before = text[s0:at]
    roles = [(m.start(), role) for role, pattern in ROLE_WORDS for m in pattern.finditer(before)]
    role = max(roles)[1] if roles else None
    picked = [role] if role else [k for k, v in facts.phases.items() if v is not None]
    return [float(facts.phases[r]) for r in picked if facts.phases.get(r) is not None], "frame", {"phase": role or "any"}


def _unit_values(text: str, at: int, kind: str, spans, facts: ClipFacts) -> tuple[list[float], dict]:
    if kind == "number":
        return facts.numbers, {}
    if kind in ("s", "ms", "percent"):  # times of the phases, durations between them; confidences, scores
        values = facts.percents if kind == "percent" else [t * (1000 if kind == "ms" else 1) for t in facts.times]
        return values, {"unit": kind}
    keys = PX_KEYS if kind == "px" else IOD_KEYS
    s0 = _sentence_start(text, at)
    near = [names for s, e, names in spans if s0 <= s and e <= at]
    named = [n for n in (near[-1] if near else facts.moved) if n in facts.moved]
    values = [float(facts.regions[n][k]) for n in named for k in keys if k in facts.regions[n]]
    if kind == "iod":
        values += [float(a["strength_iod"]) for a in facts.aus.values() if "strength_iod" in a]
    elif EYE_WORDS.search(text, s0, at):  # "the eyes are 21.6 px apart": the crop's or the video's eye distance
        values += facts.eye_px
    return values, {"regions": named, "unit": kind}


def _emotions(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    out = []
    for m in FINE_AFTER.finditer(text):  # "negative (despair)": a word in a label's bracket is a label, too
        if m.group(2).lower() not in EMOTION_WORDS and m.group(2).lower() not in (NONE, OTHERS):
            out.append(Claim("emotion", m.group(2), m.start(2), None))
    for m in EMOTION.finditer(text):
        if m.end() == len(text) and not final:
            continue
        label = EMOTION_WORDS[m.group(1).lower()] if m.group(1) else next(g for g in m.groups()[1:] if g).lower()
        ok = label in facts.labels
        out.append(Claim("emotion", m.group(0), m.start(), {"label": facts.emotion.get("label"),
                                                            "fine": facts.emotion.get("fine")} if ok else None))
    return out


def _sides(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    """A side said to move must have a fired AU on it (or on both) or a moved region of it; "unilateral" an AU
    on one side only."""
    au_sides = [a["side"] for a in facts.aus.values() if a.get("side")]
    au_sides += [side for a in facts.aus.values() for side in a.get("sides", ())]  # ordinary motion: "sides"
    region_sides = [n.rsplit("_", 1)[1] for n in facts.moved if n.endswith(("_left", "_right"))]
    moved = {s for side in au_sides + region_sides for s in (("left", "right") if side == "both" else (side,))}
    out = []
    for m in SIDE.finditer(text):
        if m.end() == len(text) and not final:
            continue
        one = (m.group(1) or "").lower()
        ok = (one in moved if one else {"left", "right"} <= moved if m.group(2) or m.group(3)
              else any(side in ("left", "right") for side in au_sides))
        owner = _sentence_au(text, m.start(), facts)
        fix = None
        if ok and owner:  # a side said of the AU the sentence names: that AU's own side, written in where wrong
            said = one or ("both" if m.group(2) or m.group(3) else "one")
            ok = said == owner or (said == "one" and owner in ("left", "right"))
            both = "two sides" if re.search(r"\bthe\s+$", text[: m.start()], re.I) else "both sides"  # "on the two sides"
            fix = None if ok or m.group(3) or m.group(4) else both if owner == "both" else f"{owner} side"
        out.append(Claim("side", m.group(0), m.start(), {"sides": sorted(moved & {"left", "right"})} if ok else None,
                         fix=fix))
    return out


def _sentence_start(text: str, at: int) -> int:
    """Where the sentence holding position `at` begins (after the last SENTENCE_END before it)."""
    return max((e.end() for e in SENTENCE_END.finditer(text, 0, at)), default=0)


def _sentence_au(text: str, at: int, facts: ClipFacts) -> str | None:
    """The side ("left", "right", "both") of the last fired AU named before `at` in its sentence, if it has one."""
    s0 = _sentence_start(text, at)
    codes = AU_NUMBER.findall(text, s0, at)
    entry = facts.aus.get(f"AU{int(codes[-1])}") if codes else None
    if not entry:
        return None
    sides = [entry["side"]] if entry.get("side") else list(entry.get("sides", ()))
    sides = {s for side in sides for s in (("left", "right") if side == "both" else (side,)) if s in ("left", "right")}
    return None if not sides else "both" if len(sides) == 2 else sides.pop()


def _motion_kinds(text: str, facts: ClipFacts, final: bool) -> list[Claim]:
    """"micro-expression" / "macro-expression" must be the kind the analysis measured (quality.motion_kind)."""
    out = []
    for m in MOTION_KIND.finditer(text):
        if facts.motion_kind is None or (m.end() == len(text) and not final):
            continue
        said = m.group(1).lower()
        ok = said == facts.motion_kind
        fix = facts.motion_kind + m.group(0)[5:] if facts.motion_kind in ("micro", "macro") else None  # the measured kind
        out.append(Claim("motion", m.group(0), m.start(), {"motion_kind": facts.motion_kind} if ok else None,
                         fix=None if ok else fix))
    return out
