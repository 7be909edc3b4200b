"""Stage 2 recipe: instruction tuning on Uni-MER with LoRA on the LLM; projector and experts train too."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from deft.labels import record_key
from deft.model.batch import collate, targets
from deft.model.deft import DeftModel
from deft.model.prompt import PromptIds, encode_prompt
from deft.train.data import TrainingSet
from deft.train.log import TrainingLog
from deft.train.parallel import (SEED_STRIDE, average_gradients, broadcast_weights, make_accelerator,
                                 mean_over_processes, shard, to_device)

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


def _prompt(tokenizer, record: dict, max_answer: int) -> PromptIds:
    p = encode_prompt(tokenizer, record["instruction"], record["answer"])
    return PromptIds(p.prefix, p.suffix, p.answer[:max_answer])


def _trainable(model: DeftModel) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def train_instruct(model: DeftModel, data: TrainingSet, stage: InstructStage, out: str | Path, log: TrainingLog,
                   resume: bool = False, progress: bool = True) -> int:
    """LoRA + projector (+ experts, slowly) on the records; checkpoints trainable weights to OUT/checkpoint.pt.
    Runs on CPU, one GPU or many processes via `accelerate launch`: each process takes its share of every global
    batch of `batch_size` records (deft.train.parallel); only the main process logs and checkpoints."""
    from tqdm import tqdm

    out = Path(out)
    accelerator = make_accelerator()
    rank, world, main = accelerator.process_index, accelerator.num_processes, accelerator.is_main_process
    if not hasattr(model.llm, "peft_config"):
        model.add_lora()
    if stage.gradient_checkpointing:
        model.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(accelerator.device)
    by_key = {c.key: c for c in data.clips}
    subjects = {s: i for i, s in enumerate(data.subjects)}
    records_all = stage_records(data, stage)
    order = list(range(len(records_all)))
    steps_per_epoch = max(1, len(order) // stage.batch_size)
    total = stage.max_steps or max(1, round(stage.epochs * steps_per_epoch))
    groups = [
        {"params": [p for n, p in model.llm.named_parameters() if p.requires_grad], "lr": stage.lr},
        {"params": list(model.projector.parameters()), "lr": stage.module_lr},
        {"params": list(model.experts.parameters()) + list(model.heads.parameters()), "lr": stage.module_lr / 10},
    ]
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 10) * max(0.05, 1 - s / total))
    start = 0
    if resume and (out / CHECKPOINT).exists():
        state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)
        model.load_state_dict(state["trainable"], strict=False)
        optimizer.load_state_dict(state["optimizer"])  # moves the state to the parameters' device
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]
    broadcast_weights(params, accelerator)  # LoRA's random init differs by process
    optimizer = accelerator.prepare(optimizer)
    model.train()
    bar = tqdm(total=total, initial=start, desc="stage 2: instructions", unit="step", disable=not (progress and main))
    for step in range(start, min(total, stage.stop_at or total)):
        torch.manual_seed(stage.seed * 100_003 + step + rank * SEED_STRIDE)  # dropout by step and process: resumable
        epoch, within = divmod(step, steps_per_epoch)
        random.Random(stage.seed + epoch).shuffle(shuffled := order.copy())
        ids = shard(shuffled[within * stage.batch_size : (within + 1) * stage.batch_size], rank, world)
        records = [records_all[i] for i in ids]
        clips = [by_key[record_key(r)] for r in records]
        batch = to_device(collate([c.features for c in clips]), accelerator.device)
        y = to_device(targets([c.aus for c in clips], [c.composite for c in clips],
                              [c.emotion if c.composite != "none" else "none" for c in clips],
                              [subjects[c.subject] for c in clips]), accelerator.device)
        with accelerator.autocast():
            lm = model.lm_loss(batch, [_prompt(model.tokenizer, r, stage.max_answer_tokens) for r in records])
            aux = model.expert_loss(batch, y)["total"]
            loss = lm + stage.aux_weight * aux
        optimizer.zero_grad()
        accelerator.backward(loss)
        average_gradients(params, len(records), accelerator)
        accelerator.clip_grad_norm_(params, 1.0)  # unscales first under fp16 mixed precision
        optimizer.step()
        scheduler.step()
        lm_mean, aux_mean = mean_over_processes(torch.stack([lm.detach().float(), aux.detach().float()]), len(records),
                                                accelerator).tolist()
        bar.update()
        bar.set_postfix(lm=f"{lm_mean:.3f}")
        if main:
            log.write(stage="instruct", step=step + 1, lm_loss=lm_mean, aux_loss=aux_mean)
        if main and ((step + 1) % stage.checkpoint_every == 0 or step + 1 in (total, stage.stop_at)):
            tmp = out / (CHECKPOINT + ".tmp")
            out.mkdir(parents=True, exist_ok=True)
            torch.save({"trainable": {n: p.detach() for n, p in _trainable(model).items()},
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step + 1}, tmp)
            tmp.replace(out / CHECKPOINT)
    bar.close()
    accelerator.wait_for_everyone()  # no process returns before the checkpoint is complete
    model.eval()
    return total
