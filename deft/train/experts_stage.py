"""Stage 1 recipe: train the three experts and the heads on clips (hybrid + disentanglement objective)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from deft.model.deft import DeftModel
from deft.train.batches import clip_batches
from deft.train.data import TrainingSet
from deft.train.log import TrainingLog
from deft.train.parallel import SEED_STRIDE, make_accelerator


EXPERTS_DONE = "experts_stage.pt"  # experts + heads after stage 1: `resume` loads them instead of re-running it
_STAGE1_MODULES = ("experts.", "heads.")


@dataclass
class ExpertsStage:
    epochs: int = 40
    batch_size: int = 32  # the global batch, split between processes
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


@contextmanager
def trainable_only(model: torch.nn.Module, prefixes: tuple[str, ...]) -> Iterator[list[torch.nn.Parameter]]:
    """Only the parameters named under `prefixes` require grad inside (so DDP syncs just those, not an attached LLM);
    yields them; every parameter's flag is restored after."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefixes))
    try:
        yield [p for p in model.parameters() if p.requires_grad]
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def train_experts(model: DeftModel, data: TrainingSet, stage: ExpertsStage, log: TrainingLog, progress: bool = True) -> None:
    """Experts + heads; the LLM (if attached) is untouched. Runs on CPU, one GPU or many processes via `accelerate
    launch` (DDP, see deft.train.parallel); the model stays on the accelerator's device."""
    from tqdm import tqdm

    accelerator = make_accelerator()
    torch.manual_seed(stage.seed + accelerator.process_index * SEED_STRIDE)
    main = accelerator.is_main_process
    with trainable_only(model, _STAGE1_MODULES) as params:
        optimizer = torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay)
        loader = clip_batches(data, stage.batch_size, shuffle=True, seed=stage.seed)
        ddp, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, stage.lr, total_steps=stage.epochs * len(loader))
        step = 0
        for epoch in tqdm(range(stage.epochs), desc="stage 1: experts", unit="epoch", disable=not (progress and main)):
            ddp.train()
            sums: dict[str, float] = {}
            for batch, y in loader:
                terms = ddp(batch, y)
                optimizer.zero_grad()
                accelerator.backward(terms["total"])
                optimizer.step()
                scheduler.step()
                step += 1
                values = accelerator.reduce(torch.stack([v.detach().float() for v in terms.values()]), "mean")
                for k, v in zip(terms, values.tolist()):
                    sums[k] = sums.get(k, 0.0) + v / len(loader)
            if main:
                log.write(stage="experts", step=step, epoch=epoch, **sums)
        accelerator.free_memory()  # drops the DDP wrapper and its gradient hooks before the flags are restored
    model.eval()


def save_experts(model: DeftModel, out: Path) -> None:
    """Stage 1's result to OUT/experts_stage.pt (written whole, then renamed): the mark that stage 1 finished."""
    tmp = out / (EXPERTS_DONE + ".tmp")
    torch.save({n: t.detach().cpu() for n, t in model.state_dict().items() if n.startswith(_STAGE1_MODULES)}, tmp)
    tmp.replace(out / EXPERTS_DONE)


def load_experts(model: DeftModel, out: Path) -> bool:
    """Load a finished stage 1 from OUT; False when there is none (stage 1 has to run)."""
    if not (out / EXPERTS_DONE).exists():
        return False
    state = torch.load(out / EXPERTS_DONE, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=False)
    return True
