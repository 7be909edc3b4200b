"""`deft train`: stage 1 then stage 2 on a training folder; saves the model with its card and curves."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch

from deft.instruct.build import PROVENANCE_FILE
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.train.data import TrainingSet, load_training_set, load_training_sets
from deft.train.experts_stage import ExpertsStage, load_experts, save_experts, train_experts
from deft.model.drafts import DraftTable, write_answers
from deft.train.instruct_stage import InstructStage, stage_records, train_instruct
from deft.train.log import TrainingLog
from deft.train.parallel import check_batch_sizes, make_accelerator


def train(data_dir: str | Path | Sequence[str | Path], out: str | Path, config: DeftConfig = DeftConfig(),
          experts: ExpertsStage = ExpertsStage(), instruct: InstructStage | None = InstructStage(),
          eval_dir: str | Path | None = None, llm=None, tokenizer=None, resume: bool = False, progress: bool = True,
          text_eval_clips: int | None = 20) -> DeftModel:
    """Train and save to OUT: config.json, deft.safetensors, adapter/, README.md, log.jsonl, curves.png and
    the trained answers that draft its speculative decoding (deft.model.drafts). Several DATA_DIR folders are
    trained on together."""
    from deft.eval.model_eval import evaluate_heads, evaluate_text
    from deft.model.card import model_card

    accelerator = make_accelerator()  # first: under `accelerate launch` it puts each process on its own GPU
    check_batch_sizes(accelerator.num_processes, experts=experts.batch_size,
                      **({"instructions": instruct.batch_size} if instruct else {}))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folders = [data_dir] if isinstance(data_dir, (str, Path)) else list(data_dir)
    data = load_training_sets(folders)
    config.n_subjects = len(data.subjects)
    log = TrainingLog(out / "log.jsonl")
    if instruct is not None and llm is None:
        from deft.model.backbone import load_backbone

        llm, tokenizer = load_backbone(None if config.backbone == "default" else config.backbone,
                                       quantize=config.quantize)
    torch.manual_seed(experts.seed)  # the modules' init: a resumed run starts from the same weights
    model = DeftModel(config, llm, tokenizer)
    started = time.perf_counter()
    if resume and load_experts(model, out):  # stage 1 finished before: keep its rows, do not run it again
        model.eval()
    else:
        if accelerator.is_main_process:  # a fresh log (a stage 1 cut short is run again from the start)
            log.keep(lambda row: False)
        train_experts(model, data, experts, log, progress)
        if accelerator.is_main_process:
            save_experts(model, out)
        accelerator.wait_for_everyone()
    answers: list[str] = []
    if instruct is not None:
        train_instruct(model, data, instruct, out, log, resume, progress)
        answers = [r["answer"] for r in stage_records(data, instruct)]
        model.drafts = DraftTable.from_answers(answers, model.tokenizer)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:  # under `accelerate launch` one process evaluates and saves
        return model
    elapsed = time.perf_counter() - started
    scores: dict = {}
    if eval_dir is not None:
        held: TrainingSet = load_training_set(eval_dir)
        scores["heads"] = evaluate_heads(model, held)
        if instruct is not None:
            subset = held if text_eval_clips is None else TrainingSet(held.clips[:text_eval_clips], [])
            scores["text"] = evaluate_text(model, subset)
    parts = [("train" if len(folders) == 1 else f"train {i + 1}", f) for i, f in enumerate(folders)]
    builds = {part: Path(folder) / PROVENANCE_FILE for part, folder in (*parts, ("held", eval_dir)) if folder}
    config.extra.update({
        "data_build": {part: json.loads(p.read_text()) for part, p in builds.items() if p.exists()},
        "train_data": " + ".join(map(str, folders)),
        "train_clips": len(data.clips), "train_records": len(data.records),
        "subjects": data.subjects, "experts_stage": asdict(experts), "instruct_stage": asdict(instruct) if instruct else None,
        "train_seconds": round(elapsed, 1), "scores": scores,
    })
    model.save_pretrained(out, card=model_card(config))
    if answers:
        write_answers(out, answers)
    (out / "scores.json").write_text(json.dumps(scores, indent=2, default=list) + "\n")
    log.plot(out / "curves.png")
    return model
