"""Data parallelism for the recipes, all of it accelerate's: `accelerator.prepare` wraps DeftModel in DDP (its
`forward` returns the losses, so DDP all-reduces the gradients in `accelerator.backward` and broadcasts process 0's
weights when it wraps) and splits every global batch of the recipes' DataLoaders between the processes.

`split_batches=True`: `batch_size` stays the global batch whatever the number of processes (so the same number of
optimizer steps and the same learning-rate schedule); it must be a multiple of the number of processes. With more
than one process, accelerate completes a last, smaller batch of an epoch with the epoch's first examples
(`even_batches`); with one process nothing changes.
"""

from __future__ import annotations

import os

from deft.errors import ConfigError

SEED_STRIDE = 1_000_003  # process r draws dropout from seed + r * SEED_STRIDE: process 0 keeps the one-process seeds


def make_accelerator():
    """accelerate's Accelerator, refusing a launch it would run as independent processes that each believe they are
    the only one (all training on everything, all writing the same files): torchrun on a machine without a GPU."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    accelerator = Accelerator(dataloader_config=DataLoaderConfiguration(split_batches=True))
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:
        raise ConfigError(f"launched as {launched} processes but accelerate sees {accelerator.num_processes}: "
                          "without a GPU, set ACCELERATE_USE_CPU=true (for `accelerate launch --multi_gpu` or "
                          "torchrun)")
    return accelerator


def check_batch_sizes(processes: int, **sizes: int) -> None:
    """Refuse, before any training, a global batch accelerate could not split evenly between `processes`."""
    bad = {name: size for name, size in sizes.items() if size % processes}
    if bad:
        raise ConfigError(f"batch sizes {bad} are not multiples of the {processes} processes launched: "
                          "each global batch is split evenly between them")
