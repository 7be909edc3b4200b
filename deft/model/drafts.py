"""Draft continuations for speculative decoding: an n-gram table over the answers a model was trained on.

deft's answers are phrased from a small set of templates ("The left mouth corner moves up and to the
image right by ..."), so after a few tokens the rest of a phrase is usually predictable. The table
maps each context of MIN_N..MAX_N (2..4) answer tokens to the token that most often followed it in
the training answers; a draft chains those predictions, backing off to shorter contexts. The LLM then checks a whole
draft in one forward pass (deft.model.decode) and keeps only what it would have generated itself, so
drafts change the speed, not the greedy answer (up to bfloat16 rounding: see deft.model.decode).

A checkpoint carries its training answers in DRAFTS_FILE (one per line, written by `deft train`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DRAFTS_FILE = "draft_answers.jsonl"  # one JSON string per line: the distinct training answers
MAX_N = 4  # longest context looked up (tokens)
MIN_N = 2  # a single shared token predicts the next too poorly to be worth checking
DRAFT_LEN = 8  # tokens proposed per step at most


@dataclass
class DraftTable:
    """context tuple -> most frequent next token, for contexts of MIN_N..MAX_N tokens."""

    next_token: dict[tuple[int, ...], int] = field(default_factory=dict)
    max_n: int = MAX_N
    min_n: int = MIN_N

    @classmethod
    def from_sequences(cls, sequences: Iterable[list[int]], max_n: int = MAX_N, min_n: int = MIN_N) -> "DraftTable":
        counts: dict[tuple[int, ...], Counter] = defaultdict(Counter)
        for seq in sequences:
            for i in range(1, len(seq)):
                for n in range(min_n, min(max_n, i) + 1):
                    counts[tuple(seq[i - n:i])][seq[i]] += 1
        # ties go to the smaller token id, so the table does not depend on the order of the answers
        table = {ctx: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for ctx, c in counts.items()}
        return cls(table, max_n, min_n)

    @classmethod
    def from_answers(cls, answers: Iterable[str], tokenizer) -> "DraftTable":
        """The table of `answers` as the model generates them (token ids of the answer text, no turn markers)."""
        return cls.from_sequences(tokenizer.encode(a, add_special_tokens=False) for a in answers)

    def __len__(self) -> int:
        return len(self.next_token)

    def draft(self, tokens: list[int], limit: int = DRAFT_LEN) -> list[int]:
        """Up to `limit` tokens likely to follow `tokens`; empty where no context of MIN_N+ tokens is known."""
        out: list[int] = []
        context = list(tokens[-self.max_n:])
        while len(out) < limit:
            nxt = None
            for n in range(min(self.max_n, len(context)), self.min_n - 1, -1):
                nxt = self.next_token.get(tuple(context[-n:]))
                if nxt is not None:
                    break
            if nxt is None:
                break
            out.append(nxt)
            context = (context + [nxt])[-self.max_n:]
        return out


def write_answers(folder: str | Path, answers: Iterable[str]) -> Path:
    """Save the distinct `answers` (sorted, so the file is deterministic) to FOLDER/DRAFTS_FILE."""
    path = Path(folder) / DRAFTS_FILE
    path.write_text("".join(json.dumps(a) + "\n" for a in sorted(set(answers))))
    return path


def load_table(folder: str | Path, tokenizer) -> DraftTable | None:
    """The draft table of a model folder, or None when it has no DRAFTS_FILE."""
    path = Path(folder) / DRAFTS_FILE
    if not path.is_file():
        return None
    return DraftTable.from_answers((json.loads(line) for line in path.read_text().splitlines() if line.strip()),
                                   tokenizer)
