"""The DEFT model: experts, projector, heads and the LoRA-tuned LLM they feed."""
