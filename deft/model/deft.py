"""DeftModel: experts -> projector -> soft tokens spliced into a LoRA-tuned causal LM; heads beside it.

Shapes: B clips, E experts, T tokens per expert, D expert width, H LLM width, L sequence length.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deft.errors import ConfigError
from deft.instruct.faithful import ClipFacts
from deft.model.config import DeftConfig
from deft.model.decode import greedy_decode
from deft.model.drafts import DraftTable, load_table
from deft.model.experts import EXPERTS
from deft.model.guard import Guard
from deft.model.heads import Heads
from deft.model.losses import hybrid_loss
from deft.model.projector import Projector
from deft.model.prompt import PromptIds, encode_prompt, stop_ids

WEIGHTS_FILE = "deft.safetensors"  # experts + projector + heads
ADAPTER_DIR = "adapter"  # the LoRA adapter (peft), without the base model

# peft imports bitsandbytes, whose CPU backend warns on AVX512-BF16 CPUs that an optional kernel is missing and
# advises `pip install kernels`: that package fetches its kernel from the Hugging Face Hub at run time, which deft
# never does, and bitsandbytes' own CPU path works without it. Only that warning's logger is quieted.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


class DeftModel(nn.Module):
    def __init__(self, config: DeftConfig, llm=None, tokenizer=None):
        super().__init__()
        self.config = config
        self.experts = nn.ModuleDict({name: EXPERTS[name](config) for name in config.experts})
        self.heads = Heads(config)
        self.llm, self.tokenizer = None, tokenizer
        self.drafts: DraftTable | None = None  # speculative-decoding drafts (the checkpoint's training answers)
        if llm is not None:
            self.attach_llm(llm, tokenizer)
        else:
            self.projector = Projector(config)

    # ---- experts and heads -------------------------------------------------------------
    def encode(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{expert: (B, T, D)}; the batch moves to the experts' device (CPU-collated clips on a GPU model)."""
        device = next(self.experts.parameters()).device
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        return {name: expert(batch) for name, expert in self.experts.items()}

    def classify(self, batch: dict[str, torch.Tensor]) -> tuple[dict, dict, dict]:
        """(expert tokens, pooled (B, D) per expert, head logits)."""
        tokens = self.encode(batch)
        pooled = {k: v.mean(dim=1) for k, v in tokens.items()}
        return tokens, pooled, self.heads(pooled)

    def expert_loss(self, batch: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Stage 1 objective: heads + disentanglement."""
        _, pooled, logits = self.classify(batch)
        apex = None
        if "structure" in self.experts:
            apex = self.experts["structure"](batch, image_key="apex_image").mean(dim=1)
        return hybrid_loss(logits, pooled, targets, self.config, apex)

    def forward(self, batch: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                prompts: list[PromptIds] | None = None, aux_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """Training losses of one batch, so DDP (accelerator.prepare) can wrap the model: the hybrid terms of
        `expert_loss` (stage 1); with `prompts` (stage 2) also "lm", "aux" (the hybrid total) and
        "total" = lm + aux_weight * aux."""
        lm = None if prompts is None else self.lm_loss(batch, prompts)  # first: dropout draws as before forward existed
        terms = self.expert_loss(batch, targets)
        if lm is not None:
            terms["aux"], terms["lm"] = terms["total"], lm
            terms["total"] = lm + aux_weight * terms["aux"]
        return terms

    # ---- LLM ---------------------------------------------------------------------------
    def attach_llm(self, llm, tokenizer) -> None:
        """Use `llm` (a HF causal LM, optionally peft-wrapped) and size the projector to it."""
        self.llm, self.tokenizer = llm, tokenizer
        embed = llm.get_input_embeddings()
        self.config.llm_dim = embed.embedding_dim
        if not hasattr(self, "projector") or self.projector.norm.normalized_shape[0] != self.config.llm_dim:
            self.projector = Projector(self.config)
        with torch.no_grad():
            sample = embed(torch.arange(min(4096, embed.num_embeddings)))  # includes any embedding scale
            self.projector.scale.fill_(sample.norm(dim=-1).mean().item())

    def add_lora(self) -> None:
        """LoRA on the configured projections; on a 4-bit backbone (QLoRA) peft's k-bit preparation first."""
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        c = self.config
        if c.quantize == "4bit":
            self.llm = prepare_model_for_kbit_training(self.llm, use_gradient_checkpointing=False)
        self.llm = get_peft_model(self.llm, LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                                                       target_modules=list(c.lora_targets), task_type="CAUSAL_LM"))

    def _causal(self):
        return self.llm.get_base_model() if hasattr(self.llm, "get_base_model") else self.llm

    def soft_tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, E * T, H) soft tokens for the clips in `batch`."""
        return self.projector(self.encode(batch))

    def _embed(self, ids: list[int]) -> torch.Tensor:
        table = self.llm.get_input_embeddings()
        return table(torch.tensor(ids, dtype=torch.long, device=table.weight.device))

    def _sequence(self, soft: torch.Tensor, prompt: PromptIds) -> torch.Tensor:
        """(L, H) embeddings: prefix, soft tokens, suffix, answer (in the LLM's dtype)."""
        prefix, rest = self._embed(prompt.prefix), self._embed(prompt.suffix + prompt.answer)
        return torch.cat([prefix, soft.to(prefix.dtype), rest], dim=0)

    def lm_loss(self, batch: dict[str, torch.Tensor], prompts: list[PromptIds]) -> torch.Tensor:
        """Mean cross-entropy over answer tokens; logits are computed only at answer positions."""
        if self.llm is None:
            raise ConfigError("no LLM attached: load one with attach_llm or from_pretrained(load_llm=True)")
        soft = self.soft_tokens(batch)  # (B, S, H)
        seqs = [self._sequence(soft[i], p) for i, p in enumerate(prompts)]
        length = max(len(s) for s in seqs)
        h = soft.shape[-1]
        embeds = soft.new_zeros(len(seqs), length, h)
        mask = torch.zeros(len(seqs), length, dtype=torch.long, device=soft.device)
        for i, s in enumerate(seqs):
            embeds[i, : len(s)], mask[i, : len(s)] = s, 1
        causal = self._causal()
        hidden = causal.get_decoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state  # (B, L, H)
        picked, targets = [], []
        for i, p in enumerate(prompts):
            n = len(p.answer)
            end = len(seqs[i])
            picked.append(hidden[i, end - n - 1 : end - 1])  # position t predicts token t + 1
            targets.extend(p.answer)
        logits = causal.get_output_embeddings()(torch.cat(picked))  # (N answer tokens, vocab)
        cap = getattr(causal.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return F.cross_entropy(logits.float(), torch.tensor(targets, device=logits.device))

    def prompt_embeds(self, batch: dict[str, torch.Tensor], instruction: str, answer: list[int] = ()) -> torch.Tensor:
        """(L, H) input embeddings of the chat prompt asking `instruction` about the one clip in `batch`,
        followed by the `answer` tokens given so far (a decoder resuming after a checked prefix)."""
        prompt = encode_prompt(self.tokenizer, instruction)
        prompt.answer = list(answer)
        return self._sequence(self.soft_tokens(batch)[0], prompt)

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor], instruction: str, max_new_tokens: int = 160,
                 streamer=None, speculative: bool = True, facts: ClipFacts | None = None) -> str:
        """Greedy answer for one clip (batch of 1); drafts from `self.drafts` are checked several tokens
        per LLM pass unless `speculative` is False (deft.model.decode). With the clip's `facts` it can
        only state what they hold (deft.model.guard)."""
        embeds = self.prompt_embeds(batch, instruction)[None]  # (1, L, H)
        guard = Guard(self.tokenizer, facts, instruction) if facts is not None else None
        tokens, _ = greedy_decode(self.llm, embeds, max_new_tokens, stop_ids(self.tokenizer),
                                  drafts=self.drafts if speculative else None, streamer=streamer, guard=guard)
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def merge_lora(self) -> "DeftModel":
        """Fold the LoRA adapter into the backbone's weights: same answers, faster decoding (no peft
        branch per projection); for inference only, as the adapter can no longer be trained or saved."""
        if hasattr(self.llm, "merge_and_unload"):
            self.llm = self.llm.merge_and_unload()
            self.lora_merged = True
        return self

    # ---- save / load -------------------------------------------------------------------
    def own_state(self) -> dict[str, torch.Tensor]:
        """Experts, projector and heads (never the LLM)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("llm.")}

    def save_pretrained(self, folder: str | Path, card: str | None = None) -> None:
        from safetensors.torch import save_file

        if getattr(self, "lora_merged", False):
            raise ConfigError("this model's LoRA was merged into the backbone (merge_lora) for inference; "
                              "save the model before merging")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder)
        save_file({k: v.contiguous() for k, v in self.own_state().items()}, str(folder / WEIGHTS_FILE))
        if self.llm is not None and hasattr(self.llm, "peft_config"):
            self.llm.save_pretrained(str(folder / ADAPTER_DIR))
        if card is not None:
            (folder / "README.md").write_text(card)

    @classmethod
    def from_pretrained(cls, folder: str | Path, llm=None, tokenizer=None, load_llm: bool = True) -> "DeftModel":
        """Load experts/projector/heads; attach `llm` (or the configured backbone) and the saved adapter."""
        from safetensors.torch import load_file

        folder = Path(folder)
        config = DeftConfig.load(folder)
        if llm is None and load_llm:
            from deft.model.backbone import load_backbone

            llm, tokenizer = load_backbone(None if config.backbone == "default" else config.backbone,
                                           quantize=config.quantize)
        model = cls(config, llm, tokenizer)
        if llm is not None and (folder / ADAPTER_DIR).exists():
            from peft import PeftModel

            model.llm = PeftModel.from_pretrained(llm, str(folder / ADAPTER_DIR))
        weights = folder / WEIGHTS_FILE
        if not weights.exists():
            raise ConfigError(f"{folder}: no {WEIGHTS_FILE}; not a deft model folder")
        missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
        missing = [k for k in missing if not k.startswith("llm.")]
        if missing or unexpected:
            raise ConfigError(f"{weights}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
        if tokenizer is not None:
            model.drafts = load_table(folder, tokenizer)
        return model.eval()
