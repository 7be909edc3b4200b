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
from deft.model.guard import Guard, GuardGaveUp


@torch.no_grad()
def greedy_decode(llm, embeds: torch.Tensor, max_new_tokens: int, stop: list[int], drafts: DraftTable | None = None,
                  streamer=None, min_new_tokens: int = 0, draft_len: int = DRAFT_LEN, guard: Guard | None = None
                  ) -> tuple[list[int], dict]:
    """(generated token ids incl. a final stop token, stats) for prompt `embeds` (1, L, H).

    `streamer` gets the transformers streamer calls (put of the empty prompt, then of each step's new
    tokens, then end). Stats: steps (LLM forwards after the prefill), drafted and accepted draft tokens,
    rewinds. With a `guard` (deft.model.guard) every step's text is checked against the clip's facts: the
    first token of an unbacked claim is banned at its position and decoding resumes there; the streamer
    gets whole checked sentences only, and the answer ends as `Guard.end` says (its last whole checked sentence
    when cut short or when the guard gives up; the AUs a "which AUs" answer left unnamed).
    """
    from transformers import DynamicCache

    stats = {"steps": 0, "drafted": 0, "accepted": 0, **({"rewinds": 0, "gave_up": False} if guard is not None else {})}
    if max_new_tokens <= 0:
        return [], stats
    if streamer is not None:
        streamer.put(torch.empty(1, 0, dtype=torch.long))  # the prompt (none: it is embeddings)
    stops = set(stop)
    name, cache = _cache_kwarg(llm), DynamicCache(config=llm.config)
    first = llm(inputs_embeds=embeds, **{name: cache}, use_cache=True, logits_to_keep=1).logits[0, -1]  # (V,)
    cache.activate_past_recording()  # sliding-window layers keep what a rejected draft may need cropped

    def choose(logits: torch.Tensor, position: int) -> int:  # the guard's forced token, else the allowed argmax
        if guard is not None and position in guard.forced:
            return guard.forced[position]
        return _pick(logits, stops, position, min_new_tokens, guard.banned(position) if guard is not None else ())

    tokens, sent = [choose(first, 0)], 0
    while True:
        done = tokens[-1] in stops or len(tokens) >= max_new_tokens
        if guard is not None:
            try:
                bad = guard.first_bad(tokens, final=done)
                if bad is not None:
                    bad = guard.rewind(tokens, bad, floor=sent)
            except GuardGaveUp:
                stats["gave_up"] = True
                tokens = guard.end(tokens, sent, max_new_tokens)
                break
            if bad is not None:
                stats["rewinds"] += 1
                cache = _cut_cache(llm, name, cache, embeds, tokens, bad)
                tokens = tokens[:bad]
                if bad == 0:
                    tokens = [choose(first, 0)]
                continue
        settled = guard.settled(tokens, done) if guard is not None else len(tokens)
        if streamer is not None and settled > sent:
            streamer.put(torch.tensor(tokens[sent:settled]))
        sent = max(sent, settled)
        if done:
            tokens = guard.end(tokens, sent, max_new_tokens) if guard is not None else tokens
            break
        room = max_new_tokens - len(tokens) - 1
        draft = guard.forced_from(len(tokens))[:room] if guard is not None else []  # checked in one pass, too
        if not draft:
            draft = drafts.draft(tokens, min(draft_len, room)) if drafts is not None and room > 0 else []
        logits = llm(input_ids=torch.tensor([[tokens[-1], *draft]], device=embeds.device), **{name: cache},
                     use_cache=True).logits[0]  # (1 + k, V)
        new: list[int] = []
        for i in range(len(draft) + 1):
            position = len(tokens) + len(new)
            token = choose(logits[i], position)
            new.append(token)
            if token in stops or i == len(draft) or token != draft[i]:
                break
        cache.crop(-(len(draft) + 1 - len(new)))  # drop the checked positions past the last kept token
        stats["steps"] += 1
        stats["drafted"] += len(draft)
        stats["accepted"] += len(new) - 1
        tokens += new
    if streamer is not None:
        if len(tokens) > sent:
            streamer.put(torch.tensor(tokens[sent:]))
        streamer.end()
    return tokens, stats


def _cut_cache(llm, name: str, cache, embeds: torch.Tensor, tokens: list[int], bad: int):
    """The cache cut back to the prompt + tokens[:bad - 1] (what gives the logits at position `bad`).
    Cropped in place while no sliding-window layer has dropped a state; else filled again from the prompt."""
    keep = max(bad - 1, 0)
    window = getattr(llm.config, "sliding_window", None)
    if window is None or embeds.shape[1] + len(tokens) < window:
        cache.crop(-(len(tokens) - 1 - keep))
        return cache
    from transformers import DynamicCache

    cache = DynamicCache(config=llm.config)
    ids = torch.tensor([tokens[:keep]], device=embeds.device)
    prefix = torch.cat([embeds, llm.get_input_embeddings()(ids).to(embeds.dtype)], dim=1) if keep else embeds
    llm(inputs_embeds=prefix, **{name: cache}, use_cache=True, logits_to_keep=1)
    cache.activate_past_recording()
    return cache


def _cache_kwarg(llm) -> str:
    """The forward's name for the KV cache: `cache` from transformers 5.2x, `past_key_values` before."""
    base = llm.get_base_model() if hasattr(llm, "get_base_model") else llm  # peft passes kwargs through
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _pick(logits: torch.Tensor, stops: set[int], produced: int, min_new_tokens: int, banned=()) -> int:
    """Argmax, with stop tokens barred until `min_new_tokens` are out (for fixed-length timing) and the
    guard's `banned` tokens barred at this position."""
    barred = [*banned, *(stops if produced < min_new_tokens else ())]
    if barred:
        logits = logits.clone()
        logits[barred] = float("-inf")
    return int(logits.argmax())
