"""Greedy decoding of a causal LM from prompt embeddings, with drafts checked in one pass (speculative).

Each step feeds the last token plus a draft of up to k tokens (deft.model.drafts) through the LLM with
the KV cache: (1, 1 + k) -> logits (1 + k, vocab). The draft's first j tokens that equal the LLM's own
argmax are kept, plus the LLM's token after them, so a step yields 1..k+1 tokens and the answer is the
one plain greedy decoding gives. On a CPU a step reads all weights once whatever k is (decoding is
memory-bound), so every accepted draft token is nearly free; the rejected ones are cut from the cache.

Exact in float32. In bfloat16 a pass over 1 + k positions rounds differently from k + 1 one-token
passes, so where two tokens nearly tie the answer can take the other one: the same kind of difference
bfloat16 itself makes against float32 (measured in the README). vLLM's speculative decoding notes the same.
"""

from __future__ import annotations

import inspect

import torch

from deft.model.drafts import DRAFT_LEN, DraftTable


@torch.no_grad()
def greedy_decode(llm, embeds: torch.Tensor, max_new_tokens: int, stop: list[int], drafts: DraftTable | None = None,
                  streamer=None, min_new_tokens: int = 0, draft_len: int = DRAFT_LEN) -> tuple[list[int], dict]:
    """(generated token ids incl. a final stop token, stats) for prompt `embeds` (1, L, H).

    `streamer` gets the transformers streamer calls (put of the empty prompt, then of each step's new
    tokens, then end). Stats: steps (LLM forwards after the prefill), drafted and accepted draft tokens.
    """
    from transformers import DynamicCache

    stats = {"steps": 0, "drafted": 0, "accepted": 0}
    if max_new_tokens <= 0:
        return [], stats
    if streamer is not None:
        streamer.put(torch.empty(1, 0, dtype=torch.long))  # the prompt (none: it is embeddings)
    stops = set(stop)
    name, cache = _cache_kwarg(llm), DynamicCache(config=llm.config)
    logits = llm(inputs_embeds=embeds, **{name: cache}, use_cache=True, logits_to_keep=1).logits  # (1, 1, V)
    cache.activate_past_recording()  # sliding-window layers keep what a rejected draft may need cropped
    tokens = [_pick(logits[0, -1], stops, 0, min_new_tokens)]
    if streamer is not None:
        streamer.put(torch.tensor(tokens))
    while tokens[-1] not in stops and len(tokens) < max_new_tokens:
        room = max_new_tokens - len(tokens) - 1
        draft = drafts.draft(tokens, min(draft_len, room)) if drafts is not None and room > 0 else []
        logits = llm(input_ids=torch.tensor([[tokens[-1], *draft]], device=embeds.device), **{name: cache},
                     use_cache=True).logits[0]  # (1 + k, V)
        new: list[int] = []
        for i in range(len(draft) + 1):
            token = _pick(logits[i], stops, len(tokens) + len(new), min_new_tokens)
            new.append(token)
            if token in stops or i == len(draft) or token != draft[i]:
                break
        cache.crop(-(len(draft) + 1 - len(new)))  # drop the checked positions past the last kept token
        stats["steps"] += 1
        stats["drafted"] += len(draft)
        stats["accepted"] += len(new) - 1
        tokens += new
        if streamer is not None:
            streamer.put(torch.tensor(new))
    if streamer is not None:
        streamer.end()
    return tokens, stats


def _cache_kwarg(llm) -> str:
    """The forward's name for the KV cache: `cache` from transformers 5.2x, `past_key_values` before."""
    base = llm.get_base_model() if hasattr(llm, "get_base_model") else llm  # peft passes kwargs through
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _pick(logits: torch.Tensor, stops: set[int], produced: int, min_new_tokens: int) -> int:
    """Argmax, with stop tokens barred until `min_new_tokens` are out (for fixed-length timing)."""
    if produced < min_new_tokens and stops:
        logits = logits.clone()
        logits[list(stops)] = float("-inf")
    return int(logits.argmax())
