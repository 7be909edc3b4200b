"""Token-level view of the claim check for a decoder: which generated token first goes astray, which
tokens are settled, and the bans that steer greedy decoding around an unbacked claim.

A decoder asks `first_bad(tokens)` after each step. When a claim is unbacked, the token where it starts
to go wrong is banned at that position and decoding resumes from there (the cache is cut back): the
model's next-best token replaces it, so the text stays the model's own. A wrong emotion verdict is the
exception: its place gets the analysis' label, once (`forced`; a model never taught a label, such as
`others`, would otherwise wander to words the check does not know), and the model goes on from there; so
does a wrong frame after a phase word ("starts at frame"), which has one measured value.
Only whole, checked sentences are settled (`settled`) and streamed: no later word can make a claim in them
unbacked (deft.instruct.faithful.check), and the sentence being written can still be rewound from its start
or dropped, so sent text is never taken back. When decoding stops (`end`: the stop token, the length limit,
or the guard gave up), the answer ends at its last whole sentence that checks; an answer to a question about
the clip's AUs gets one backed sentence for each fired expression AU it left unnamed (deft.instruct.coverage).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deft.instruct.coverage import asks_for_aus, missing
from deft.instruct.faithful import ClipFacts, Verdict, check, ends_whole, sentence_ends

MAX_BANS_AT = 8  # tokens banned at one position before the one before it is blamed instead
MAX_REWINDS = 64  # per answer; past it the answer ends at its last whole checked sentence (GuardGaveUp)


class GuardGaveUp(Exception):
    """Raised inside a decoder when the guard runs out of rewinds (the decoder ends the answer: `Guard.end`)."""


@dataclass
class Guard:
    tokenizer: object
    facts: ClipFacts
    question: str = ""  # a question about the clip's AUs gets every fired expression AU named (`end`)
    bans: dict[int, set[int]] = field(default_factory=dict)  # position -> tokens barred there
    forced: dict[int, int] = field(default_factory=dict)  # position -> token written there (the analysis' label)
    rewinds: int = 0
    fixed: bool = False  # the label was written in once: later wrong emotion words are banned
    _last: tuple[str, bool, Verdict] | None = field(default=None, repr=False)  # decoders ask twice per step

    def check(self, tokens: list[int], final: bool) -> tuple[str, Verdict]:
        text = self.text(tokens)
        if self._last is None or self._last[:2] != (text, final):
            self._last = (text, final, check(text, self.facts, final))
        return text, self._last[2]

    def text(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _token_at(self, tokens: list[int], char: int) -> int:
        """Index of the token whose text covers character `char` of text(tokens)."""
        lo, hi = 0, len(tokens) - 1
        while lo < hi:  # first i with len(text(tokens[: i + 1])) > char
            mid = (lo + hi) // 2
            if len(self.text(tokens[: mid + 1])) > char:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def first_bad(self, tokens: list[int], final: bool) -> int | None:
        """Position of the first token of an unbacked claim (`final`: the answer ends here), or None."""
        char = self.check(tokens, final)[1].bad
        return None if char is None else self._token_at(tokens, char)

    def rewind(self, tokens: list[int], bad: int, floor: int = 0) -> int:
        """Ban tokens[bad] at `bad` (or, when `bad` has had its share, the token before); the position to
        resume from, never before `floor` (tokens already sent). Bans past it are dropped: they were
        bans after another prefix."""
        self.rewinds += 1
        if self.rewinds > MAX_REWINDS:
            raise GuardGaveUp
        self.forced = {p: t for p, t in self.forced.items() if p < bad}
        text, _, verdict = self._last or ("", False, None)
        fix = verdict.fix if verdict and not (verdict.fix_once and self.fixed) else None
        if fix and bad >= floor and text == self.text(tokens):  # the measured text in, not the model's
            lead = text[len(self.text(tokens[:bad])): verdict.bad]  # the bad token's text before the claim
            ids = self.tokenizer.encode(lead + fix, add_special_tokens=False)
            self.forced.update({bad + i: t for i, t in enumerate(ids)})
            self.fixed = self.fixed or verdict.fix_once
            self.bans = {p: b for p, b in self.bans.items() if p < bad}
            return bad
        while bad > floor and len(self.bans.get(bad, ())) >= MAX_BANS_AT:
            bad -= 1
        if bad < floor or len(self.bans.get(bad, ())) >= MAX_BANS_AT:
            raise GuardGaveUp
        self.bans = {p: b for p, b in self.bans.items() if p <= bad}
        self.bans.setdefault(bad, set()).add(tokens[bad])
        return bad

    def settled(self, tokens: list[int], final: bool) -> int:
        """How many leading tokens may be streamed: the whole, checked sentences (all of a finished answer
        that ends one); the sentence being written waits, so the guard can still rewind or drop it."""
        text, verdict = self.check(tokens, final)
        if final and verdict.bad is None and ends_whole(text):  # all but a stop token (`end` may write before it)
            return len(tokens) - (len(tokens) > 0 and self.text(tokens[:-1]) == text)
        ends = [e for e in sentence_ends(text) if e <= verdict.safe]
        return self._token_at(tokens, ends[-1] - 1) + 1 if ends else 0

    def end(self, tokens: list[int], sent: int, limit: int) -> list[int]:
        """The answer once decoding stops: all of it when it ends a whole sentence and checks, else up to its
        last whole sentence that checks (never less than the `sent` tokens; none may be left); then, for a
        question about the clip's AUs, a backed sentence for each fired expression AU left unnamed, within
        `limit` tokens."""
        text, verdict = self.check(tokens, True)
        if verdict.bad is not None or not ends_whole(text):
            keep = [k for k in (self._token_at(tokens, e - 1) + 1 for e in sentence_ends(text)) if k > sent]
            tokens = next((tokens[:k] for k in reversed(keep) if check(self.text(tokens[:k]), self.facts, True).bad
                           is None), tokens[:sent])
            text = self.text(tokens)
        if not text.strip() or not asks_for_aus(self.question):
            return tokens
        stop = tokens[-1:] if self.text(tokens[:-1]) == text else []  # a stop token stays last
        more = self.tokenizer.encode(missing(text, self.facts), add_special_tokens=False)
        if not more or len(tokens) + len(more) > limit:
            return tokens
        return tokens[: len(tokens) - len(stop)] + more + stop

    def banned(self, position: int) -> set[int]:
        return self.bans.get(position, set())

    def forced_from(self, position: int) -> list[int]:
        """The tokens to write from `position` on (none: the model chooses)."""
        out = []
        while position + len(out) in self.forced:
            out.append(self.forced[position + len(out)])
        return out
