"""Both training stages in 2 CPU processes (gloo) under accelerate's DDP: weights stay in sync, batches are split,
one log and checkpoint; and `deft train --qlora` launched the way the README documents.

The processes are started by `accelerate launch --multi_gpu --num_processes 2` with ACCELERATE_USE_CPU=true: accelerate
launches through torchrun and its processes take gloo on the CPU (`--cpu --num_processes 2` would want mpirun).
This file is also the worker: `accelerate launch ... -m tests.test_train_distributed DATA OUT`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deft.model.config import DeftConfig

REPO = Path(__file__).resolve().parents[1]
LAUNCH = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch", "--multi_gpu", "--num_processes", "2"]
ENV = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
# dropout off and no decorrelation (a batch statistic): stage 1's loss is then a mean over clips, and its
# gradient averaged over the shards is exactly the global batch's, so 2 processes must match 1
CONFIG = dict(expert_dim=32, conv_width=8, n_subjects=2, dropout=0.0, decorrelation_weight=0.0)
# 10 clips in global batches of 2, one clip a process: no short last batch, which accelerate would complete with
# the epoch's first clips under 2 processes (deft.train.parallel) and so differ from one process
EXPERTS = dict(epochs=2, batch_size=2)
INSTRUCT = dict(max_steps=4, batch_size=4, max_answer_tokens=16, checkpoint_every=2)


def _model(seed: int):
    from deft.model.deft import DeftModel
    from deft.model.tiny import tiny_llm

    llm, tok = tiny_llm()
    torch.manual_seed(seed)
    return DeftModel(DeftConfig(**CONFIG), llm, tok)


def _spy(module, name: str, seen: list, key) -> None:
    """Wrap module.name so that each call first appends key(its first argument) to `seen`."""
    original = getattr(module, name)
    setattr(module, name, lambda items, *a: seen.append(key(items)) or original(items, *a))


def _worker(data_dir: str, out: str) -> None:
    """One process: both stages on the tiny backbone; saves its weights and what it trained on to OUT/rank{r}.pt."""
    torch.set_num_threads(1)  # two processes on two cores: more threads only contend
    import deft.train.batches as batches
    from deft.train.data import load_training_set
    from deft.train.experts_stage import ExpertsStage, train_experts
    from deft.train.instruct_stage import InstructStage, train_instruct
    from deft.train.log import TrainingLog
    from deft.train.parallel import make_accelerator

    accelerator = make_accelerator()
    rank = accelerator.process_index
    data = load_training_set(data_dir)
    index_of = {id(r): i for i, r in enumerate(data.records)}
    clips_seen, records_seen = [], []  # one list per step: clip keys (stage 1), record indices (stage 2)
    _spy(batches, "clip_batch", clips_seen, lambda clips: [c.key for c in clips])
    _spy(batches, "record_batch", records_seen, lambda records: [index_of[id(r)] for r in records])
    model = _model(seed=rank)  # a different random init on each process: the stages must start from rank 0's
    log = TrainingLog(Path(out) / "log.jsonl")
    train_experts(model, data, ExpertsStage(**EXPERTS), log, progress=False)
    clips_seen = list(clips_seen)  # stage 2's batches call clip_batch too
    after_experts = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith(("experts.", "heads."))}
    train_instruct(model, data, InstructStage(**INSTRUCT), Path(out) / "run", log, progress=False)
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    torch.save({"experts": after_experts, "trained": trained, "clips": clips_seen, "records": records_seen},
               Path(out) / f"rank{rank}.pt")
    accelerator.wait_for_everyone()
    accelerator.end_training()  # destroys the process group: a clean exit


@pytest.fixture(scope="module")
def training_folder(tmp_path_factory):
    from deft.instruct.build import build, jobs_from_source

    root = tmp_path_factory.mktemp("ddp")
    build(jobs_from_source("synthetic:10:31"), root / "train", features=True, progress=False)
    return root


@pytest.fixture(scope="module")
def two_processes(training_folder):
    root = training_folder
    cmd = [*LAUNCH, "-m", "tests.test_train_distributed", str(root / "train"), str(root / "out")]
    done = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, [torch.load(root / "out" / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.mark.slow
def test_ranks_end_with_the_same_weights(two_processes):
    _, (a, b) = two_processes
    assert all(torch.equal(a["experts"][n], b["experts"][n]) for n in a["experts"])  # after stage 1
    assert a["trained"].keys() == b["trained"].keys() and any("lora_B" in n for n in a["trained"])
    assert all(torch.equal(a["trained"][n], b["trained"][n]) for n in a["trained"])


@pytest.mark.slow
def test_ranks_train_on_disjoint_shards_of_each_batch(two_processes):
    _, (a, b) = two_processes
    assert len(a["clips"]) == len(b["clips"]) == 10  # 2 epochs of 5 global batches
    for x, y in zip(a["clips"], b["clips"]):
        assert x and y and not set(x) & set(y)
    for epoch in (slice(0, 5), slice(5, 10)):  # every clip once per epoch, over both processes
        seen = [k for batches in (a["clips"][epoch], b["clips"][epoch]) for batch in batches for k in batch]
        assert len(seen) == len(set(seen)) == 10
    assert len(a["records"]) == len(b["records"]) == INSTRUCT["max_steps"]
    seen = [i for x, y in zip(a["records"], b["records"]) for i in x + y]
    assert len(seen) == len(set(seen)) == INSTRUCT["max_steps"] * INSTRUCT["batch_size"]


@pytest.mark.slow
def test_one_log_and_one_checkpoint(two_processes):
    from deft.train.instruct_stage import CHECKPOINT
    from deft.train.log import TrainingLog

    root, (a, _) = two_processes
    rows = TrainingLog(root / "out" / "log.jsonl").rows()
    assert [(r["stage"], r["step"]) for r in rows] == [("experts", 5), ("experts", 10)] + [
        ("instruct", s) for s in range(1, INSTRUCT["max_steps"] + 1)]
    assert sorted(p.name for p in (root / "out" / "run").iterdir()) == [CHECKPOINT]
    saved = torch.load(root / "out" / "run" / CHECKPOINT, weights_only=False)
    assert saved["step"] == INSTRUCT["max_steps"]
    assert all(torch.equal(saved["trainable"][n], a["trained"][n]) for n in saved["trainable"])


@pytest.mark.slow
def test_two_processes_take_the_one_process_steps_in_stage_1(two_processes):
    """Averaged shard gradients = the global batch's gradient: same weights as one process, up to summation order."""
    from deft.train.data import load_training_set
    from deft.train.batches import clip_batches
    from deft.train.experts_stage import ExpertsStage, train_experts
    from deft.train.log import TrainingLog

    root, (a, _) = two_processes
    data = load_training_set(root / "train")
    model = _model(seed=0)
    batch, y = next(iter(clip_batches(data, EXPERTS["batch_size"], shuffle=True)))
    model.expert_loss(batch, y)["total"].backward()
    # a conv bias right before a one-channel-per-group GroupNorm is cancelled: its gradient is float noise that
    # Adam scales up to full-size steps, so it differs with the summation order; every other weight must agree
    noise = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().max() < 1e-5}
    model.zero_grad(set_to_none=True)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n in a["experts"]}
    train_experts(model, data, ExpertsStage(**EXPERTS), TrainingLog(root / "one.jsonl"), progress=False)
    one = {n: p.detach() for n, p in model.named_parameters() if n in a["experts"]}
    assert one.keys() == a["experts"].keys() and len(noise) < len(one) // 10
    assert all(torch.allclose(one[n], a["experts"][n], atol=1e-5) for n in one if n not in noise)
    assert any(not torch.allclose(one[n], before[n], atol=1e-3) for n in one)  # it did train


@pytest.mark.slow
def test_deft_train_qlora_under_accelerate_launch(training_folder, tmp_path):
    """The README's multi-GPU command on 2 CPU processes, with QLoRA (bitsandbytes' CPU fallback): one log, a model
    that reloads with its backbone in 4-bit."""
    from bitsandbytes.nn import Linear4bit

    from deft.model.deft import DeftModel
    from deft.model.tiny import tiny_llm
    from deft.train.log import TrainingLog

    llm, tok = tiny_llm()
    llm.save_pretrained(tmp_path / "backbone")
    tok.save_pretrained(tmp_path / "backbone")
    cmd = [*LAUNCH, "-m", "deft.cli", "train", str(training_folder / "train"), "--out", str(tmp_path / "m"),
           "--backbone", str(tmp_path / "backbone"), "--expert-epochs", "1", "--steps", "2", "--batch-size", "2",
           "--max-answer-tokens", "8", "--qlora"]
    done = subprocess.run(cmd, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = TrainingLog(tmp_path / "m" / "log.jsonl").rows()
    assert [(r["stage"], r["step"]) for r in rows] == [("experts", 1), ("instruct", 1), ("instruct", 2)]
    with pytest.warns(UserWarning, match="QLoRA without a GPU"):
        model = DeftModel.from_pretrained(tmp_path / "m")
    assert any(isinstance(m, Linear4bit) for m in model.llm.modules())
    assert any(p.abs().sum() > 0 for n, p in model.llm.named_parameters() if "lora_B" in n)  # B starts at zero


def test_a_launch_accelerate_does_not_see_is_refused(monkeypatch):
    """torchrun without ACCELERATE_USE_CPU on a machine without a GPU: accelerate sees one process in each."""
    from deft.errors import ConfigError
    from deft.train.parallel import make_accelerator

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="ACCELERATE_USE_CPU"):
        make_accelerator()


def test_a_batch_the_processes_cannot_share_evenly_is_refused():
    from deft.errors import ConfigError
    from deft.train.parallel import check_batch_sizes

    check_batch_sizes(2, experts=32, instructions=4)
    with pytest.raises(ConfigError, match="instructions"):
        check_batch_sizes(2, experts=32, instructions=3)


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
