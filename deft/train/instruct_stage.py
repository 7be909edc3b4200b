"""Stage 2 recipe: instruction tuning on Uni-MER with LoRA on the LLM; projector and experts train too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from deft.model.deft import DeftModel
from deft.train.batches import record_batches
from deft.train.data import TrainingSet
from deft.train.log import TrainingLog
from deft.train.parallel import SEED_STRIDE, make_accelerator

CHECKPOINT = "checkpoint.pt"


@dataclass
class InstructStage:
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 4
    lr: float = 3e-4  # LoRA
    module_lr: float = 1e-3  # projector; experts get a tenth of it
    max_answer_tokens: int = 160
    aux_weight: float = 0.2  # the heads' hybrid loss beside the LM loss
    gradient_checkpointing: bool = False
    checkpoint_every: int = 25
    stop_at: int | None = None  # stop after this step (a time-boxed run); `resume` continues it
    types: tuple[str, ...] | None = None  # instruction types to train on (None = all)
    seed: int = 0


def stage_records(data: TrainingSet, stage: InstructStage) -> list[dict]:
    """The instruction records the stage trains on (those of its `types`)."""
    return [r for r in data.records if stage.types is None or r["type"] in stage.types]


def _trainable(model: DeftModel) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _param_groups(model: DeftModel, stage: InstructStage) -> list[dict]:
    return [
        {"params": [p for p in model.llm.parameters() if p.requires_grad], "lr": stage.lr},
        {"params": list(model.projector.parameters()), "lr": stage.module_lr},
        {"params": list(model.experts.parameters()) + list(model.heads.parameters()), "lr": stage.module_lr / 10},
    ]


def _save(out: Path, model: DeftModel, optimizer, scheduler, step: int) -> None:
    """Trainable weights, optimizer and scheduler to OUT/checkpoint.pt (written whole, then renamed)."""
    tmp = out / (CHECKPOINT + ".tmp")
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"trainable": {n: p.detach() for n, p in _trainable(model).items()},
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step}, tmp)
    tmp.replace(out / CHECKPOINT)


def _resume(out: Path, model: DeftModel, optimizer, scheduler) -> int:
    """The step OUT/checkpoint.pt was taken at, its weights and optimizer loaded; 0 without one."""
    if not (out / CHECKPOINT).exists():
        return 0
    state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)
    model.load_state_dict(state["trainable"], strict=False)
    optimizer.load_state_dict(state["optimizer"])  # moves the state to the parameters' device
    scheduler.load_state_dict(state["scheduler"])
    return state["step"]


def train_instruct(model: DeftModel, data: TrainingSet, stage: InstructStage, out: str | Path, log: TrainingLog,
                   resume: bool = False, progress: bool = True) -> int:
    """LoRA + projector (+ experts, slowly) on the records; checkpoints trainable weights to OUT/checkpoint.pt.
    Runs on CPU, one GPU or many processes via `accelerate launch` (DDP; each global batch of `batch_size`
    records is split between the processes, see deft.train.parallel); only the main process logs and checkpoints."""
    from tqdm import tqdm

    out = Path(out)
    accelerator = make_accelerator()
    rank, main = accelerator.process_index, accelerator.is_main_process
    if not hasattr(model.llm, "peft_config"):
        torch.manual_seed(stage.seed)  # LoRA's init does not depend on what ran before (stage 1 skipped on resume)
        model.add_lora()
    if stage.gradient_checkpointing:
        model.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(accelerator.device)
    records = stage_records(data, stage)
    total = stage.max_steps or max(1, round(stage.epochs * max(1, len(records) // stage.batch_size)))
    groups = _param_groups(model, stage)
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 10) * max(0.05, 1 - s / total))
    start = _resume(out, model, optimizer, scheduler) if resume else 0
    if main:  # steps logged after the checkpoint are redone: log them once
        log.keep(lambda row: row["stage"] != "instruct" or row["step"] <= start)
    stop = min(total, stage.stop_at or total)
    loader = record_batches(records, data, model.tokenizer, stage.batch_size, stage.max_answer_tokens, stage.seed,
                            start, stop)
    ddp, optimizer, loader = accelerator.prepare(model, optimizer, loader)  # DDP starts every process from rank 0's
    ddp.train()
    bar = tqdm(total=total, initial=start, desc="stage 2: instructions", unit="step", disable=not (progress and main))
    for step, (batch, y, prompts) in enumerate(loader, start):
        torch.manual_seed(stage.seed * 100_003 + step + rank * SEED_STRIDE)  # dropout by step and process: resumable
        terms = ddp(batch, y, prompts, aux_weight=stage.aux_weight)
        optimizer.zero_grad()
        accelerator.backward(terms["total"])
        accelerator.clip_grad_norm_(params, 1.0)  # unscales first under fp16 mixed precision
        optimizer.step()
        scheduler.step()
        lm_mean, aux_mean = accelerator.reduce(torch.stack([terms["lm"].detach(), terms["aux"].detach()]).float(),
                                               "mean").tolist()
        bar.update()
        bar.set_postfix(lm=f"{lm_mean:.3f}")
        if main:
            log.write(stage="instruct", step=step + 1, lm_loss=lm_mean, aux_loss=aux_mean)
        if main and ((step + 1) % stage.checkpoint_every == 0 or step + 1 in (total, stage.stop_at)):
            _save(out, model, optimizer, scheduler, step + 1)
    bar.close()
    accelerator.wait_for_everyone()  # no process returns before the checkpoint is complete
    accelerator.free_memory()
    model.eval()
    return total
