"""Training recipes: stage 1 (experts + heads on clips), stage 2 (instruction tuning with LoRA)."""
