"""A tiny random-init backbone (Gemma 3 layout, 2 layers, width 64) and a tokenizer trained on the spot.

For tests, notebooks and smoke runs of the training recipes: nothing is downloaded and a training
step takes milliseconds. Its answers are noise until trained; use the default backbone for real work.
"""

from __future__ import annotations

import json
from functools import lru_cache

TINY_VOCAB = 600  # BPE merges learned from the instruction templates: enough to spell every answer
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>", "<start_of_turn>", "<end_of_turn>")  # Gemma's chat markers


@lru_cache(maxsize=1)
def tiny_tokenizer():
    """A byte-level BPE tokenizer (transformers fast tokenizer) trained on deft's instruction templates."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from deft.instruct.templates import load_templates

    corpus = [json.dumps(load_templates())] + [f"AU{i} frame {i} {i / 100}" for i in range(40)]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=TINY_VOCAB, special_tokens=list(SPECIAL_TOKENS),
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")


def tiny_llm(seed: int = 0):
    """(model, tokenizer): a random-init 2-layer Gemma 3 causal LM (~0.1 M weights); same seed, same weights."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    tok = tiny_tokenizer()
    config = Gemma3TextConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=512,
                              sliding_window=64, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                              eos_token_id=tok.eos_token_id)
    return Gemma3ForCausalLM(config).eval(), tok
