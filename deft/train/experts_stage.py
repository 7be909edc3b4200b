"""Stage 1 recipe: train the three experts and the heads on clips (hybrid + disentanglement objective)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from deft.model.batch import collate, targets
from deft.model.deft import DeftModel
from deft.train.data import TrainingSet
from deft.train.log import TrainingLog


@dataclass
class ExpertsStage:
    epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


def clip_batches(data: TrainingSet, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """Batches of (features dict, targets dict) over the clips."""
    subjects = {s: i for i, s in enumerate(data.subjects)}

    def make(idx: list[int]):
        clips = [data.clips[i] for i in idx]
        return collate([c.features for c in clips]), targets(
            [c.aus for c in clips], [c.composite for c in clips], [c.emotion if c.composite != "none" else "none" for c in clips],
            [subjects[c.subject] for c in clips])

    gen = torch.Generator().manual_seed(seed)
    return DataLoader(list(range(len(data.clips))), batch_size=batch_size, shuffle=shuffle, generator=gen, collate_fn=make)


def train_experts(model: DeftModel, data: TrainingSet, stage: ExpertsStage, log: TrainingLog, progress: bool = True) -> None:
    """Experts + heads; the LLM (if attached) is untouched. Runs on CPU, one GPU or many via accelerate."""
    from accelerate import Accelerator
    from tqdm import tqdm

    torch.manual_seed(stage.seed)
    accelerator = Accelerator()
    params = [p for n, p in model.named_parameters() if n.startswith(("experts.", "heads."))]
    optimizer = torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay)
    loader = clip_batches(data, stage.batch_size, shuffle=True, seed=stage.seed)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, stage.lr, total_steps=stage.epochs * len(loader))
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    inner = accelerator.unwrap_model(model)
    step = 0
    for epoch in tqdm(range(stage.epochs), desc="stage 1: experts", unit="epoch", disable=not progress):
        model.train()
        sums: dict[str, float] = {}
        for batch, y in loader:
            terms = inner.expert_loss(batch, y)
            optimizer.zero_grad()
            accelerator.backward(terms["total"])
            optimizer.step()
            scheduler.step()
            step += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) / len(loader)
        log.write(stage="experts", step=step, epoch=epoch, **sums)
    model.eval()
