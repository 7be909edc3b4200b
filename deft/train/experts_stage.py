"""Stage 1 recipe: train the three experts and the heads on clips (hybrid + disentanglement objective)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from deft.model.batch import collate, targets
from deft.model.deft import DeftModel
from deft.train.data import TrainingSet
from deft.train.log import TrainingLog
from deft.train.parallel import (SEED_STRIDE, average_gradients, broadcast_weights, make_accelerator,
                                 mean_over_processes, shard, to_device)


@dataclass
class ExpertsStage:
    epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def clip_batches(data: TrainingSet, batch_size: int, shuffle: bool, seed: int = 0, rank: int = 0,
                 world: int = 1) -> DataLoader:
    """Batches of (features dict, targets dict) over the clips; with `world` processes, each batch is process `rank`'s
    share of a global batch of `batch_size` (every process draws the same order from `seed`)."""
    subjects = {s: i for i, s in enumerate(data.subjects)}

    def make(idx: list[int]):
        clips = [data.clips[i] for i in shard(idx, rank, world)]
        return collate([c.features for c in clips]), targets(
            [c.aus for c in clips], [c.composite for c in clips], [c.emotion if c.composite != "none" else "none" for c in clips],
            [subjects[c.subject] for c in clips])

    gen = torch.Generator().manual_seed(seed)
    return DataLoader(list(range(len(data.clips))), batch_size=batch_size, shuffle=shuffle, generator=gen, collate_fn=make)


def train_experts(model: DeftModel, data: TrainingSet, stage: ExpertsStage, log: TrainingLog, progress: bool = True) -> None:
    """Experts + heads; the LLM (if attached) is untouched. Runs on CPU, one GPU or many processes via `accelerate
    launch` (data parallel, see deft.train.parallel); the model stays on the accelerator's device."""
    from tqdm import tqdm

    accelerator = make_accelerator()
    rank, world = accelerator.process_index, accelerator.num_processes
    torch.manual_seed(stage.seed + rank * SEED_STRIDE)
    model.to(accelerator.device)
    params = [p for n, p in model.named_parameters() if n.startswith(("experts.", "heads."))]
    broadcast_weights(params, accelerator)
    optimizer = accelerator.prepare(torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay))
    loader = clip_batches(data, stage.batch_size, shuffle=True, seed=stage.seed, rank=rank, world=world)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, stage.lr, total_steps=stage.epochs * len(loader))
    step = 0
    main = accelerator.is_main_process
    for epoch in tqdm(range(stage.epochs), desc="stage 1: experts", unit="epoch", disable=not (progress and main)):
        model.train()
        sums: dict[str, float] = {}
        for batch, y in loader:
            batch, y = to_device(batch, accelerator.device), to_device(y, accelerator.device)
            n = len(y["composite"])
            with accelerator.autocast():
                terms = model.expert_loss(batch, y)
            optimizer.zero_grad()
            accelerator.backward(terms["total"])
            average_gradients(params, n, accelerator)
            optimizer.step()
            scheduler.step()
            step += 1
            values = mean_over_processes(torch.stack([v.detach().float() for v in terms.values()]), n, accelerator)
            for k, v in zip(terms, values.tolist()):
                sums[k] = sums.get(k, 0.0) + v / len(loader)
        if main:
            log.write(stage="experts", step=step, epoch=epoch, **sums)
    model.eval()
