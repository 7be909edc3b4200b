"""The DEFT model on tiny random-init configs: shapes, gradients, losses, save/load, ablations."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from deft.model.batch import collate, targets
from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.model.features import MAP_SIZE, TEXTURE_FRAMES, ClipFeatures
from deft.model.losses import decorrelation
from deft.model.prompt import encode_prompt
from tests.tiny import tiny_llm


def fake_features(n: int, seed: int = 0) -> list[ClipFeatures]:
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    return [ClipFeatures(f(1, MAP_SIZE, MAP_SIZE), f(1, MAP_SIZE, MAP_SIZE), f(264), f(TEXTURE_FRAMES, MAP_SIZE, MAP_SIZE),
                         f(3, MAP_SIZE, MAP_SIZE), f(132)) for _ in range(n)]


def small_config(**kw) -> DeftConfig:
    return DeftConfig(expert_dim=32, conv_width=8, n_subjects=3, **kw)


def test_expert_shapes_and_stage1_loss_backprops():
    model = DeftModel(small_config())
    batch = collate(fake_features(4))
    tokens, pooled, logits = model.classify(batch)
    assert {k: tuple(v.shape) for k, v in tokens.items()} == {k: (4, 2, 32) for k in ("structure", "texture", "motion")}
    assert logits["composite"].shape == (4, 4) and logits["fine"].shape == (4, 10) and logits["aus"].shape == (4, 12)
    y = targets([{"AU12"}, {"AU1", "AU2"}, set(), {"AU4"}], ["positive", "surprise", "none", "negative"],
                ["happiness", "surprise", "none", "anger"], [0, 1, 2, 0])
    terms = model.expert_loss(batch, y)
    assert set(terms) >= {"composite", "fine", "aus", "decorrelation", "invariance", "adversary", "total"}
    terms["total"].backward()
    for name in ("structure", "texture", "motion"):
        assert model.experts[name].fuse[1].weight.grad.abs().sum() > 0


def test_identity_adversary_and_motion_expert_pull_apart_and_stay_bounded():
    """The adversary learns from the motion tokens without moving them; the motion expert learns only from the
    confusion term (toward the adversary's uniform guess, bounded below by log K), never from reversing it."""
    import math

    model = DeftModel(small_config())
    batch = collate(fake_features(4))
    y = targets([set()] * 4, ["none"] * 4, ["none"] * 4, [0, 1, 2, 0])
    terms = model.expert_loss(batch, y)
    assert terms["confusion"] >= math.log(3) - 1e-5
    terms["adversary"].backward(retain_graph=True)
    assert model.heads.adversary.weight.grad.abs().sum() > 0 and model.experts["motion"].fuse[1].weight.grad is None
    model.zero_grad()
    terms["confusion"].backward()
    assert model.heads.adversary.weight.grad is None and model.experts["motion"].fuse[1].weight.grad.abs().sum() > 0


def test_decorrelation_is_zero_for_independent_and_high_for_copies():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, 16, generator=g), torch.randn(512, 16, generator=g)
    assert decorrelation({"a": a, "b": b}) < 0.01
    assert decorrelation({"a": a, "b": a.clone()}) > 0.05


@pytest.mark.parametrize("experts", [("structure", "texture", "motion"), ("texture", "motion"), ("motion",)])
def test_lm_loss_trains_lora_projector_and_experts(experts):
    llm, tok = tiny_llm()
    model = DeftModel(small_config(experts=experts), llm, tok)
    model.add_lora()
    batch = collate(fake_features(2))
    prompts = [encode_prompt(tok, "Which Action Units are active?", "AU12 pulls the mouth corners."),
               encode_prompt(tok, "Describe the motion.", "The left cheek moves up.")]
    loss = model.lm_loss(batch, prompts)
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    lora = [p for n, p in model.llm.named_parameters() if "lora_B" in n]
    base = [p for n, p in model.llm.named_parameters() if "lora" not in n]
    assert lora and all(not p.requires_grad for p in base)
    assert model.projector.maps[experts[0]][0].weight.grad.abs().sum() > 0
    assert model.experts[experts[-1]].fuse[1].weight.grad.abs().sum() > 0
    # a few steps on one example drive its loss down
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    first = model.lm_loss(batch, prompts).item()
    for _ in range(25):
        opt.zero_grad()
        model.lm_loss(batch, prompts).backward()
        opt.step()
    assert model.lm_loss(batch, prompts).item() < first - 0.3  # nats; the tiny tied head learns slowly


def test_forward_returns_the_stage_losses():
    """forward (what DDP calls): the hybrid terms alone, or with prompts lm + aux_weight * hybrid total."""
    llm, tok = tiny_llm()
    model = DeftModel(small_config(dropout=0.0), llm, tok).eval()
    batch = collate(fake_features(2))
    y = targets([{"AU12"}, set()], ["positive", "none"], ["happiness", "none"], [0, 1])
    prompts = [encode_prompt(tok, "Describe the motion.", "The chin moves up."),
               encode_prompt(tok, "Which AUs?", "AU12.")]
    hybrid = model.expert_loss(batch, y)
    stage1 = model(batch, y)
    assert stage1.keys() == hybrid.keys() and all(torch.equal(stage1[k], hybrid[k]) for k in hybrid)
    stage2 = model(batch, y, prompts, aux_weight=0.2)
    assert torch.equal(stage2["lm"], model.lm_loss(batch, prompts)) and torch.equal(stage2["aux"], hybrid["total"])
    assert stage2["total"].item() == pytest.approx(stage2["lm"].item() + 0.2 * hybrid["total"].item(), rel=1e-6)


def test_answer_only_logits_match_full_forward():
    llm, tok = tiny_llm()
    model = DeftModel(small_config(), llm, tok).eval()
    batch = collate(fake_features(1))
    prompt = encode_prompt(tok, "Describe the motion.", "The chin moves up.")
    ours = model.lm_loss(batch, [prompt])
    embeds = model._sequence(model.soft_tokens(batch)[0], prompt)[None]
    logits = llm(inputs_embeds=embeds).logits[0]
    n = len(prompt.answer)
    full = torch.nn.functional.cross_entropy(logits[-n - 1 : -1], torch.tensor(prompt.answer))
    assert ours.item() == pytest.approx(full.item(), rel=1e-4)


def test_save_and_load_round_trip(tmp_path):
    llm, tok = tiny_llm()
    model = DeftModel(small_config(), llm, tok)
    model.add_lora()
    with torch.no_grad():  # make the adapter non-trivial
        for n, p in model.llm.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.02)
    model.eval()
    batch = collate(fake_features(1, seed=3))
    prompt = encode_prompt(tok, "Describe the motion.", "The chin moves up.")
    before = model.lm_loss(batch, [prompt]).item()
    model.save_pretrained(tmp_path / "m", card="# card\n")
    assert (tmp_path / "m" / "adapter" / "adapter_model.safetensors").exists()
    assert not any("embed" in k for k in __import__("safetensors.torch").torch.load_file(str(tmp_path / "m" / "deft.safetensors")))
    fresh, _ = tiny_llm()  # the same base weights (same seed), no adapter
    loaded = DeftModel.from_pretrained(tmp_path / "m", llm=fresh, tokenizer=tok)
    assert loaded.lm_loss(batch, [prompt]).item() == pytest.approx(before, rel=1e-5)
    text = loaded.generate(batch, "Describe the motion.", max_new_tokens=5)
    assert isinstance(text, str)


def test_loading_peft_does_not_advise_a_hub_download():
    """bitsandbytes (under peft) advises `pip install kernels`, a run-time Hub download, on some CPUs; deft quiets it."""
    done = subprocess.run([sys.executable, "-c", "import deft.model.deft, peft"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "kernels-community" not in done.stderr and "pip install kernels" not in done.stderr
