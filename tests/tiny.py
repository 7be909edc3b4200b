"""The tiny random-init backbone now lives in the library (deft.model.tiny); re-exported for the tests."""

from deft.model.tiny import tiny_llm, tiny_tokenizer

__all__ = ["tiny_llm", "tiny_tokenizer"]
