"""Generation engines behind one interface: vLLM where it can start, plain transformers otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

import torch

from deft.model.batch import collate
from deft.model.features import ClipFeatures
from deft.model.prompt import encode_prompt, stop_ids


class Engine(Protocol):
    name: str

    def explain(self, features: ClipFeatures, question: str, max_new_tokens: int) -> Iterator[str]:
        """Answer `question` about one clip; yields text pieces as they are generated."""

    def complete(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        """Plain text completion by the (adapted) LLM, no clip."""


class TransformersEngine:
    """DeftModel.generate with a streamer thread: works wherever torch does."""

    name = "transformers"

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()  # one generation at a time: HF models are not re-entrant

    def _stream(self, run) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.model.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
        errors: list[BaseException] = []

        def target():
            try:
                with self.lock:
                    run(streamer)
            except BaseException as err:  # noqa: BLE001 - surfaced to the caller below
                errors.append(err)
                streamer.end()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if errors:
            raise errors[0]

    def explain(self, features: ClipFeatures, question: str, max_new_tokens: int) -> Iterator[str]:
        batch = collate([features])
        return self._stream(lambda s: self.model.generate(batch, question, max_new_tokens, streamer=s))

    def complete(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        tok = self.model.tokenizer

        @torch.no_grad()
        def run(streamer):
            ids = tok(prompt, return_tensors="pt")
            self.model.llm.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer,
                                    eos_token_id=stop_ids(tok), pad_token_id=tok.pad_token_id or tok.eos_token_id)

        return self._stream(run)


class VLLMEngine:
    """vLLM with the base LLM + deft's LoRA adapter; clips enter as prompt embeddings (--enable-prompt-embeds)."""

    name = "vllm"

    def __init__(self, model, backbone_dir: str, adapter_dir: str | None, max_model_len: int = 1024):
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        self.model = model
        self.llm = LLM(model=backbone_dir, enable_prompt_embeds=True, enable_lora=adapter_dir is not None,
                       max_lora_rank=max(8, model.config.lora_r), max_model_len=max_model_len, dtype="float32")
        self.lora = LoRARequest("deft", 1, adapter_dir) if adapter_dir else None

    def _run(self, prompt, max_new_tokens: int) -> Iterator[str]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=max_new_tokens, temperature=0.0, stop_token_ids=stop_ids(self.model.tokenizer))
        out = self.llm.generate([prompt], params, lora_request=self.lora, use_tqdm=False)
        yield out[0].outputs[0].text.strip()

    @torch.no_grad()
    def explain(self, features: ClipFeatures, question: str, max_new_tokens: int) -> Iterator[str]:
        m = self.model
        embeds = m._sequence(m.soft_tokens(collate([features]))[0], encode_prompt(m.tokenizer, question))
        return self._run({"prompt_embeds": embeds.float()}, max_new_tokens)

    def complete(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        return self._run(prompt, max_new_tokens)
