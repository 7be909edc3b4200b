"""A chat answer about a long video: the model explains each spotted interval (or the one asked about), each
explanation headed by deft's own line naming the face, frames, kind and emotion, each checked against its
interval's measured facts."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from deft.instruct.faithful import ClipFacts, claims
from deft.long.analyze import IntervalClip
from deft.long.series import LongAnalysis
from deft.model.features import clip_features
from deft.serve.engines import Engine, TokenCount
from deft.serve.openai_errors import APIError

MAX_INTERVALS = 5  # intervals one answer explains (the strongest); the rest are named as left out


class LongAnswer:
    """The answer's pieces (`pieces()`), its evidence (the long object) and, once streamed, its claims."""

    def __init__(self, result: LongAnalysis, clips: list[IntervalClip], interval: tuple[int, int] | None = None):
        self.evidence = {**result.to_dict(), "source": "uploaded video"}
        if interval is not None:
            face_id, onset = interval
            clips = [c for c in clips if c.face_id == face_id and c.interval["onset"] == onset]
            if not clips:
                raise APIError(400, f"no spotted interval of face {face_id} starts at frame {onset}; the video's "
                               "intervals are in /v1/deft/analyze's answer", "unknown_interval", "interval")
        analysed = [c for c in clips if c.analysis is not None]
        strongest = {id(c) for c in sorted(analysed, key=lambda c: -c.interval["score"])[:MAX_INTERVALS]}
        self.clips = [c for c in analysed if id(c) in strongest]  # in time order
        self.left_out = len(clips) - len(self.clips)
        self._said: list[tuple[ClipFacts, str]] = []

    def pieces(self, engine: Engine, question: str, n_tokens: int, count: TokenCount,
               stop: threading.Event) -> Iterator[str]:
        if not self.clips:
            yield "No facial expression was spotted in this video: nothing to explain."
            return
        for k, clip in enumerate(self.clips):
            yield ("\n\n" if k else "") + f"[{clip.label()}] "
            facts = ClipFacts.from_analysis(clip.analysis.to_dict())
            text = []
            for piece in engine.explain(clip_features(clip.analysis), question, n_tokens, count, stop, facts=facts):
                text.append(piece)
                yield piece
            self._said.append((facts, "".join(text)))
            if stop.is_set():
                return
        if self.left_out:
            yield f"\n\n({self.left_out} more spotted interval(s) not explained here.)"

    def claims(self) -> list[dict]:
        """Each explained interval's claims, each with the fact it rests on."""
        return [{"face_id": clip.face_id, "onset": clip.interval["onset"],
                 "claims": [c.to_dict() for c in claims(text, facts)]}
                for clip, (facts, text) in zip(self.clips, self._said)]
