"""The DataLoaders the recipes train on, in global batches that `accelerator.prepare` splits between processes:
clips with their labels (stage 1), instruction records with their clips and prompts (stage 2)."""

from __future__ import annotations

import random

import torch
from torch.utils.data import DataLoader

from deft.labels import fine_target, record_key
from deft.model.batch import collate, targets
from deft.model.prompt import PromptIds, encode_prompt
from deft.train.data import Clip, TrainingSet


def clip_batch(clips: list[Clip], subjects: dict[str, int]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(model inputs, label tensors) of `clips`; `subjects` numbers the subjects for the identity adversary."""
    return collate([c.features for c in clips]), targets(
        [c.aus for c in clips], [c.composite for c in clips], [fine_target(c.emotion, c.composite) for c in clips],
        [subjects[c.subject] for c in clips])


def clip_batches(data: TrainingSet, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """Batches of (features dict, targets dict) over the clips, in an order drawn from `seed`."""
    subjects = {s: i for i, s in enumerate(data.subjects)}
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(list(range(len(data.clips))), batch_size=batch_size, shuffle=shuffle, generator=gen,
                      collate_fn=lambda idx: clip_batch([data.clips[i] for i in idx], subjects))


def prompt_ids(tokenizer, record: dict, max_answer: int) -> PromptIds:
    """The record's chat prompt and answer, the answer cut to `max_answer` tokens."""
    p = encode_prompt(tokenizer, record["instruction"], record["answer"])
    return PromptIds(p.prefix, p.suffix, p.answer[:max_answer])


def record_batch(records: list[dict], data: TrainingSet, tokenizer, max_answer: int) -> tuple[dict, dict, list[PromptIds]]:
    """(model inputs, label tensors, prompts) of `records` (their clips' features and labels)."""
    by_key = {c.key: c for c in data.clips}
    subjects = {s: i for i, s in enumerate(data.subjects)}
    clips = [by_key[record_key(r)] for r in records]
    return (*clip_batch(clips, subjects), [prompt_ids(tokenizer, r, max_answer) for r in records])


def step_order(n: int, batch_size: int, seed: int, start: int, stop: int) -> list[int]:
    """Record indices of steps start..stop-1, batch after batch: step s takes batch s mod (n // batch_size) of epoch
    s // (n // batch_size)'s shuffle (seed + epoch), so a resumed run sees the batches a straight one would."""
    per_epoch = max(1, n // batch_size)
    order: list[int] = []
    for step in range(start, stop):
        epoch, within = divmod(step, per_epoch)
        shuffled = list(range(n))
        random.Random(seed + epoch).shuffle(shuffled)
        order += shuffled[within * batch_size : (within + 1) * batch_size]
    return order


def record_batches(records: list[dict], data: TrainingSet, tokenizer, batch_size: int, max_answer: int, seed: int,
                   start: int, stop: int) -> DataLoader:
    """One batch of `batch_size` records (all of them if fewer) per step from `start` to `stop` (see step_order)."""
    batch_size = min(batch_size, len(records))
    order = step_order(len(records), batch_size, seed, start, stop)
    return DataLoader(records, batch_size=batch_size, sampler=order,
                      collate_fn=lambda rs: record_batch(rs, data, tokenizer, max_answer))
