"""The prompt around the soft tokens: [prefix] [clip soft tokens] [instruction, answer cue] [answer].

The backbone is a base model: deft fixes its own turn format. Gemma's turn markers are used when the
tokenizer knows them (so vLLM and transformers see the same text), a plain one otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

GEMMA_TURNS = ("<start_of_turn>user\n", "<end_of_turn>\n<start_of_turn>model\n", "<end_of_turn>")
PLAIN_TURNS = ("User: ", "\nAssistant: ", "\n")
CLIP_CUE = "Clip evidence: "  # the soft tokens follow this text


@dataclass
class PromptIds:
    prefix: list[int]  # before the soft tokens
    suffix: list[int]  # after them, up to where the answer starts
    answer: list[int]  # answer tokens + end marker (empty at inference)


def _token_id(tokenizer, token: str) -> int | None:
    """The id of a whole-token string, or None (not get_vocab(): it builds a 262k-entry dict per call)."""
    found = tokenizer.convert_tokens_to_ids(token)
    return None if found is None or found == tokenizer.unk_token_id else found


def turns(tokenizer) -> tuple[str, str, str]:
    known = _token_id(tokenizer, "<start_of_turn>") is not None and _token_id(tokenizer, "<end_of_turn>") is not None
    return GEMMA_TURNS if known else PLAIN_TURNS


def encode_prompt(tokenizer, instruction: str, answer: str | None = None) -> PromptIds:
    user, model, end = turns(tokenizer)
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    prefix = bos + tokenizer.encode(user + CLIP_CUE, add_special_tokens=False)
    suffix = tokenizer.encode("\n" + instruction + model, add_special_tokens=False)
    answer_ids = tokenizer.encode(answer + end, add_special_tokens=False) if answer is not None else []
    if answer is not None and tokenizer.eos_token_id is not None and end == PLAIN_TURNS[2]:
        answer_ids.append(tokenizer.eos_token_id)
    return PromptIds(prefix, suffix, answer_ids)


def stop_ids(tokenizer) -> list[int]:
    """Token ids that end an answer."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    end = _token_id(tokenizer, "<end_of_turn>")
    return ids + ([end] if end is not None else [])
