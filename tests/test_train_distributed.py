"""Both training stages in 2 CPU processes (gloo): weights stay in sync, batches are sharded, one log and checkpoint.

The processes are started by torchrun with ACCELERATE_USE_CPU=true, which accelerate reads as multi-CPU (gloo).
`accelerate launch --cpu --num_processes 2` is not used: without mpirun it starts a single process.
This file is also the worker: `python -m torch.distributed.run ... -m tests.test_train_distributed DATA OUT`.
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
# dropout off and no decorrelation (a batch statistic): stage 1's loss is then a mean over clips, and its
# gradient averaged over the shards is exactly the global batch's, so 2 processes must match 1
CONFIG = dict(expert_dim=32, conv_width=8, n_subjects=2, dropout=0.0, decorrelation_weight=0.0)
EXPERTS = dict(epochs=2, batch_size=4)  # 10 clips: batches of 4, 4, 2, two clips a process
INSTRUCT = dict(max_steps=4, batch_size=4, max_answer_tokens=16, checkpoint_every=2)


def _model(seed: int):
    from deft.model.deft import DeftModel
    from deft.model.tiny import tiny_llm

    llm, tok = tiny_llm()
    torch.manual_seed(seed)
    return DeftModel(DeftConfig(**CONFIG), llm, tok)


def _worker(data_dir: str, out: str) -> None:
    """One process: both stages on the tiny backbone; saves its weights and what it trained on to OUT/rank{r}.pt."""
    torch.set_num_threads(1)  # two processes on two cores: more threads only contend
    from accelerate import Accelerator

    import deft.train.experts_stage as experts_stage
    import deft.train.instruct_stage as instruct_stage
    from deft.train.data import load_training_set
    from deft.train.experts_stage import ExpertsStage, train_experts
    from deft.train.instruct_stage import InstructStage, train_instruct
    from deft.train.log import TrainingLog

    accelerator = Accelerator()  # the recipes' own; PartialState() would ignore ACCELERATE_USE_CPU
    rank = accelerator.process_index
    data = load_training_set(data_dir)
    key_of = {id(c.features): c.key for c in data.clips}
    index_of = {id(r): i for i, r in enumerate(data.records)}
    clips_seen, records_seen = [], []  # one list per step: clip keys (stage 1), record indices (stage 2)
    collate, prompt = experts_stage.collate, instruct_stage._prompt
    experts_stage.collate = lambda items: clips_seen.append([key_of[id(x)] for x in items]) or collate(items)

    def spy_prompt(tokenizer, record, max_answer):
        if not records_seen or len(records_seen[-1]) == 2:
            records_seen.append([])
        records_seen[-1].append(index_of[id(record)])
        return prompt(tokenizer, record, max_answer)

    instruct_stage._prompt = spy_prompt
    model = _model(seed=rank)  # a different random init on each process: the stages must start from rank 0's
    log = TrainingLog(Path(out) / "log.jsonl")
    train_experts(model, data, ExpertsStage(**EXPERTS), log, progress=False)
    after_experts = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith(("experts.", "heads."))}
    train_instruct(model, data, InstructStage(**INSTRUCT), Path(out) / "run", log, progress=False)
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    torch.save({"experts": after_experts, "trained": trained, "clips": clips_seen, "records": records_seen},
               Path(out) / f"rank{rank}.pt")
    accelerator.wait_for_everyone()
    accelerator.end_training()  # destroys the process group: a clean exit


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    from deft.instruct.build import build, jobs_from_source

    root = tmp_path_factory.mktemp("ddp")
    build(jobs_from_source("synthetic:10:31"), root / "train", features=True, progress=False)
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tests.test_train_distributed", str(root / "train"), str(root / "out")]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, [torch.load(root / "out" / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.mark.slow
def test_ranks_end_with_the_same_weights(two_processes):
    _, (a, b) = two_processes
    assert a["trained"].keys() == b["trained"].keys() and any("lora_B" in n for n in a["trained"])
    assert all(torch.equal(a["trained"][n], b["trained"][n]) for n in a["trained"])


@pytest.mark.slow
def test_ranks_train_on_disjoint_shards_of_each_batch(two_processes):
    _, (a, b) = two_processes
    assert len(a["clips"]) == len(b["clips"]) == 6  # 2 epochs of 3 global batches
    for x, y in zip(a["clips"], b["clips"]):
        assert x and y and not set(x) & set(y)
    for epoch in (slice(0, 3), slice(3, 6)):  # every clip once per epoch, over both processes
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
    assert [(r["stage"], r["step"]) for r in rows] == [("experts", 3), ("experts", 6)] + [
        ("instruct", s) for s in range(1, INSTRUCT["max_steps"] + 1)]
    assert sorted(p.name for p in (root / "out" / "run").iterdir()) == [CHECKPOINT]
    saved = torch.load(root / "out" / "run" / CHECKPOINT, weights_only=False)
    assert saved["step"] == INSTRUCT["max_steps"]
    assert all(torch.equal(saved["trainable"][n], a["trained"][n]) for n in saved["trainable"])


@pytest.mark.slow
def test_two_processes_take_the_one_process_steps_in_stage_1(two_processes):
    """Averaged shard gradients = the global batch's gradient: same weights as one process, up to summation order."""
    from deft.train.data import load_training_set
    from deft.train.experts_stage import ExpertsStage, clip_batches, train_experts
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

def test_a_launch_accelerate_does_not_see_is_refused(monkeypatch):
    """torchrun without ACCELERATE_USE_CPU on a machine without a GPU: accelerate sees one process in each."""
    from deft.errors import ConfigError
    from deft.train.parallel import make_accelerator

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="ACCELERATE_USE_CPU"):
        make_accelerator()


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
