"""Training recipes end to end on tiny configs: synthetic training folder, both stages, resume, eval, save."""

import json

import pytest
import torch

from deft.cli import build_parser
from deft.errors import ConfigError
from deft.instruct.build import build, jobs_from_source, write_provenance
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.model.drafts import DRAFTS_FILE
from deft.train.data import load_training_set, load_training_sets
from deft.train.experts_stage import ExpertsStage
from deft.train.instruct_stage import CHECKPOINT, InstructStage, train_instruct
from deft.train.log import TrainingLog
from deft.train.recipe import train
from tests.tiny import tiny_llm


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    build(jobs_from_source("synthetic:10:31"), root / "train", features=True, progress=False)
    build(jobs_from_source("synthetic:4:32"), root / "held", features=True, progress=False)
    write_provenance(root / "train", "synthetic:10:31", True, None)  # as `deft build-instructions` does
    write_provenance(root / "held", "synthetic:4:32", True, None)
    return root


def test_training_folder_loads(folders):
    data = load_training_set(folders / "train")
    assert len(data.clips) >= 8 and data.records
    assert data.subjects == ["astronaut", "hopper"]
    assert data.clips[0].features.texture.shape == (8, 64, 64)


def test_train_both_stages_and_reload(folders, tmp_path):
    llm, tok = tiny_llm()
    config = DeftConfig(expert_dim=32, conv_width=8)
    model = train(folders / "train", tmp_path / "m", config, ExpertsStage(epochs=3, batch_size=8),
                  InstructStage(max_steps=4, batch_size=2, max_answer_tokens=24, checkpoint_every=2),
                  eval_dir=folders / "held", llm=llm, tokenizer=tok, progress=False)
    out = tmp_path / "m"
    for name in ("config.json", "deft.safetensors", "adapter/adapter_model.safetensors", "README.md", "log.jsonl",
                 "curves.png", "scores.json", DRAFTS_FILE):
        assert (out / name).exists(), name
    scores = json.loads((out / "scores.json").read_text())
    assert 0.0 <= scores["heads"]["composite_uf1"] <= 1.0 and "faithfulness_precision" in scores["text"]
    card = (out / "README.md").read_text()
    assert "Scores on held-apart clips" in card and "composite_uf1" in card
    stages = {row["stage"] for row in TrainingLog(out / "log.jsonl").rows()}
    assert stages == {"experts", "instruct"}
    fresh, _ = tiny_llm()
    loaded = DeftModel.from_pretrained(out, llm=fresh, tokenizer=tok)
    held = load_training_set(folders / "held")
    from deft.model.batch import collate

    batch = collate([held.clips[0].features])
    with torch.no_grad():
        assert torch.allclose(loaded.classify(batch)[2]["composite"], model.classify(batch)[2]["composite"], atol=1e-5)
    assert loaded.drafts is not None and loaded.drafts.next_token == model.drafts.next_token  # the trained answers
    assert loaded.generate(batch, "Which AUs?", 12) == loaded.generate(batch, "Which AUs?", 12, speculative=False)


def test_several_folders_train_together(folders, tmp_path):
    """`deft train A B`: both folders' clips and records, each build named on the card; a clip in both is refused."""
    a, b = load_training_set(folders / "train"), load_training_set(folders / "held")
    joined = load_training_sets([folders / "train", folders / "held"])
    assert [c.key for c in joined.clips] == [c.key for c in a.clips] + [c.key for c in b.clips]
    assert len(joined.records) == len(a.records) + len(b.records)
    with pytest.raises(ConfigError, match="more than one training folder"):
        load_training_sets([folders / "train", folders / "train"])
    assert build_parser().parse_args(["train", "A", "B", "--out", "M"]).data == ["A", "B"]
    llm, tok = tiny_llm()
    train([folders / "train", folders / "held"], tmp_path / "m", DeftConfig(expert_dim=32, conv_width=8),
          ExpertsStage(epochs=1, batch_size=8), None, llm=llm, tokenizer=tok, progress=False)
    extra = json.loads((tmp_path / "m" / "config.json").read_text())["extra"]
    assert extra["train_clips"] == len(a.clips) + len(b.clips)
    assert extra["train_data"] == f"{folders / 'train'} + {folders / 'held'}"
    card = (tmp_path / "m" / "README.md").read_text()
    assert "train 1 data built by `deft build-instructions synthetic:10:31" in card
    assert "train 2 data built by `deft build-instructions synthetic:4:32" in card


def test_instruct_stage_resumes_from_checkpoint(folders, tmp_path):
    data = load_training_set(folders / "train")
    stage = InstructStage(max_steps=4, batch_size=2, max_answer_tokens=16, checkpoint_every=2)

    def fresh_model():
        torch.manual_seed(0)
        llm, tok = tiny_llm()
        return DeftModel(DeftConfig(expert_dim=32, conv_width=8, n_subjects=2), llm, tok)

    straight = fresh_model()
    train_instruct(straight, data, stage, tmp_path / "a", TrainingLog(tmp_path / "a.jsonl"), progress=False)
    first = fresh_model()
    half = InstructStage(**{**stage.__dict__, "stop_at": 2})
    train_instruct(first, data, half, tmp_path / "b", TrainingLog(tmp_path / "b.jsonl"), progress=False)
    assert torch.load(tmp_path / "b" / CHECKPOINT, weights_only=False)["step"] == 2
    resumed = fresh_model()
    train_instruct(resumed, data, stage, tmp_path / "b", TrainingLog(tmp_path / "b.jsonl"), resume=True, progress=False)
    rows = TrainingLog(tmp_path / "b.jsonl").rows()
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    a = {n: p for n, p in straight.named_parameters() if "lora_B" in n}
    b = {n: p for n, p in resumed.named_parameters() if "lora_B" in n}
    assert all(torch.allclose(a[n], b[n], atol=1e-5) for n in a)


def test_qlora_trains_lora_on_a_4bit_backbone_and_reloads(folders, tmp_path):
    """QLoRA path on CPU (bitsandbytes' fallback): NF4 linears, LoRA learns, save/load gives the same answer."""
    from bitsandbytes.nn import Linear4bit

    from deft.model.batch import collate

    llm, tok = tiny_llm()
    llm.save_pretrained(tmp_path / "backbone")
    tok.save_pretrained(tmp_path / "backbone")
    config = DeftConfig(expert_dim=32, conv_width=8, backbone=str(tmp_path / "backbone"), quantize="4bit")
    with pytest.warns(UserWarning, match="QLoRA without a GPU"):
        model = train(folders / "train", tmp_path / "q", config, ExpertsStage(epochs=1, batch_size=8),
                      InstructStage(max_steps=3, batch_size=2, max_answer_tokens=16), progress=False)
    assert any(isinstance(m, Linear4bit) for m in model.llm.modules())
    assert any(p.abs().sum() > 0 for n, p in model.llm.named_parameters() if "lora_B" in n)  # B starts at zero
    assert json.loads((tmp_path / "q" / "config.json").read_text())["quantize"] == "4bit"
    with pytest.warns(UserWarning, match="QLoRA without a GPU"):
        loaded = DeftModel.from_pretrained(tmp_path / "q")
    assert any(isinstance(m, Linear4bit) for m in loaded.llm.modules())
    batch = collate([load_training_set(folders / "held").clips[0].features])
    assert loaded.generate(batch, "Which AUs?", 6) == model.eval().generate(batch, "Which AUs?", 6)


def test_an_interrupted_train_resumes_exactly(folders, tmp_path):
    """Cut after step 2 of stage 2 (a step 3 logged, its checkpoint never written), then `resume`: stage 1 is not
    run again, every step is logged once, and the weights equal an uninterrupted run's with the same seed."""
    config = dict(expert_dim=32, conv_width=8)
    experts = ExpertsStage(epochs=2, batch_size=8)
    stage = InstructStage(max_steps=4, batch_size=2, max_answer_tokens=16, checkpoint_every=2)

    def run(out, instruct, resume=False):
        llm, tok = tiny_llm()
        return train(folders / "train", out, DeftConfig(**config), experts, instruct, llm=llm, tokenizer=tok,
                     resume=resume, progress=False)

    straight = run(tmp_path / "a", stage)
    run(tmp_path / "b", InstructStage(**{**stage.__dict__, "stop_at": 2}))
    log = TrainingLog(tmp_path / "b" / "log.jsonl")
    log.write(stage="instruct", step=3, lm_loss=9.0, aux_loss=9.0)  # what a run killed before its checkpoint leaves
    stage1_rows = [r for r in log.rows() if r["stage"] == "experts"]
    resumed = run(tmp_path / "b", stage, resume=True)
    rows = log.rows()
    assert [r for r in rows if r["stage"] == "experts"] == stage1_rows  # not re-run
    assert [r["step"] for r in rows if r["stage"] == "instruct"] == [1, 2, 3, 4]
    assert 9.0 not in [r.get("lm_loss") for r in rows]
    straight_rows = TrainingLog(tmp_path / "a" / "log.jsonl").rows()
    assert [r["step"] for r in straight_rows] == [r["step"] for r in rows]
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[n], b[n], atol=1e-5) for n in a), [n for n in a if not torch.allclose(a[n], b[n], atol=1e-5)][:5]
    for key in ("lm_loss", "aux_loss"):
        assert [r[key] for r in straight_rows if r["stage"] == "instruct"] == pytest.approx(
            [r[key] for r in rows if r["stage"] == "instruct"], abs=1e-4)
