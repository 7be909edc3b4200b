"""deft.model.embedder: prompt embeddings from checkpoint rows equal those of the whole LLM, bit for bit."""

import pytest
import torch

from deft.model.config import DeftConfig
from deft.model.deft import DeftModel
from deft.model.embedder import CheckpointEmbedding, load_prompt_model
from deft.errors import ConfigError
from tests.tiny import tiny_llm

QUESTION = "Which Action Units moved, and where? 🙂"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rows_equal_the_backbones_embedding(tmp_path, dtype):
    """A tiny Gemma 3 (scaled embeddings) saved in float32: rows read back and scaled as the model does."""
    llm, tok = tiny_llm()
    llm.save_pretrained(tmp_path)
    embed = CheckpointEmbedding(tmp_path, dtype)
    full = llm.to(dtype).get_input_embeddings()
    ids = torch.tensor([[5, 3, 5, 0], [len(tok) - 1, 7, 7, 2]])
    assert embed.weight.dtype == dtype and embed.embedding_dim == full.embedding_dim
    assert torch.equal(embed(ids), full(ids))
    with pytest.raises(ConfigError, match="out of range"):
        embed(torch.tensor([len(tok) + 10]))


def test_prompt_model_matches_the_full_model(tmp_path, happy_mp4):
    """load_prompt_model gives the prompt_embeds the full (bfloat16) model gives, and refuses generate."""
    from deft.analyze import analyze
    from deft.model.batch import collate
    from deft.model.features import clip_features

    llm, tok = tiny_llm()
    llm.save_pretrained(tmp_path / "llm")
    tok.save_pretrained(tmp_path / "llm")
    full = DeftModel(DeftConfig(expert_dim=32, conv_width=8, backbone=str(tmp_path / "llm")), llm, tok).eval()
    full.save_pretrained(tmp_path / "deft")
    full.llm.to(torch.bfloat16)
    slim = load_prompt_model(tmp_path / "deft", torch.bfloat16)
    batch = collate([clip_features(analyze(happy_mp4))])
    with torch.no_grad():
        assert torch.equal(slim.prompt_embeds(batch, QUESTION), full.prompt_embeds(batch, QUESTION))
    with pytest.raises(ConfigError, match="only the backbone's token embeddings"):
        slim.generate(batch, QUESTION)


@pytest.mark.slow
def test_default_checkpoint_bit_identical(happy_mp4):
    """The packaged checkpoint and Gemma 3 270M (262k rows, sqrt(640) scale) in the inference dtype."""
    from deft.analyze import analyze
    from deft.explain import DEFAULT_MODEL, load_model
    from deft.model.batch import collate
    from deft.model.features import clip_features
    from deft.model.inference import inference_dtype

    slim = load_prompt_model(DEFAULT_MODEL, inference_dtype())
    full = load_model(None)
    batch = collate([clip_features(analyze(happy_mp4))])
    with torch.no_grad():
        assert torch.equal(slim.prompt_embeds(batch, QUESTION), full.prompt_embeds(batch, QUESTION))
    ids = torch.arange(0, full.llm.get_input_embeddings().num_embeddings, 997)
    assert torch.equal(slim.llm.get_input_embeddings()(ids), full.llm.get_input_embeddings()(ids))
