"""Data parallelism for the recipes: each process computes its share of every global batch, then the trainable
weights' gradients are averaged across processes, so all processes take the same optimizer step.

Why not DDP (`accelerator.prepare(model)`): the losses are DeftModel methods (`expert_loss`, `lm_loss`), not
`forward`, and DDP all-reduces gradients only for a backward that follows its own forward; bypassed, each process
silently trains its own copy (checked with torch 2.13 + gloo). DDP would also keep gradient buckets for every
parameter that requires grad: the whole backbone in stage 1. The trained weights are small (experts, heads,
projector, LoRA), so one flat all-reduce per step costs little. With one process every helper here is a no-op.
"""

from __future__ import annotations

import os

import torch

from deft.errors import ConfigError

SEED_STRIDE = 1_000_003  # process r draws dropout from seed + r * SEED_STRIDE: process 0 keeps the one-process seeds


def make_accelerator():
    """accelerate's Accelerator, refusing a launch it would run as independent processes that each believe they are
    the only one (all training on everything, all writing the same files): torchrun on a machine without a GPU."""
    from accelerate import Accelerator

    accelerator = Accelerator()
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:
        raise ConfigError(f"launched as {launched} processes but accelerate sees {accelerator.num_processes}: "
                          "without a GPU, set ACCELERATE_USE_CPU=true for torchrun (or `accelerate launch --cpu` "
                          "with mpirun)")
    return accelerator


def shard(items: list, rank: int, world: int) -> list:
    """Process `rank`'s share of a global batch: items rank, rank + world, ... A batch smaller than the world (a tail)
    gives process r item r mod len, as every process must compute a gradient to join the all-reduce."""
    return items[rank::world] if len(items) >= world else [items[rank % len(items)]]


def to_device(tensors: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in tensors.items()}


def broadcast_weights(params: list[torch.Tensor], accelerator) -> None:
    """Every process starts from the main process's weights (random inits differ unless seeded alike everywhere)."""
    if accelerator.num_processes == 1:
        return
    from accelerate.utils import broadcast

    with torch.no_grad():
        flat = broadcast(torch.cat([p.detach().float().flatten() for p in params]), from_process=0)
        for p, part in zip(params, flat.split([p.numel() for p in params])):
            p.copy_(part.view_as(p))


def mean_over_processes(values: torch.Tensor, weight: int, accelerator) -> torch.Tensor:
    """sum_r weight_r * values_r / sum_r weight_r over the processes; `weight` is this process's number of examples,
    so the mean of per-process means over examples is the mean over the global batch. `values` itself with one."""
    if accelerator.num_processes == 1:
        return values
    flat = torch.cat([values.detach().float().flatten() * weight, values.new_tensor([weight], dtype=torch.float32)])
    total = accelerator.reduce(flat, "sum")
    return (total[:-1] / total[-1]).view(values.shape)


def average_gradients(params: list[torch.Tensor], weight: int, accelerator) -> None:
    """After backward: each parameter's gradient becomes its example-weighted mean over processes (for losses that are
    means over examples, exactly the global batch's gradient). A parameter no process gave a gradient keeps none."""
    if accelerator.num_processes == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    has = torch.tensor([float(p.grad is not None) for p in params], device=grads[0].device)
    flat = mean_over_processes(torch.cat([g.detach().float().flatten() for g in grads] + [has]), weight, accelerator)
    parts = flat.split([g.numel() for g in grads] + [len(params)])
    for p, part, any_grad in zip(params, parts[:-1], parts[-1].tolist()):
        p.grad = part.view_as(p).to(p.dtype) if any_grad > 0 else None
