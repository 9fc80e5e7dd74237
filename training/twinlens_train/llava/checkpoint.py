"""Checkpoints that let a killed run continue as if it had never stopped.

A checkpoint folder `OUT/checkpoints/step-0000120/` holds
    state.pt       trainable parameters (projector; + LLM in stage 2), optimizer, scheduler, step,
                   loss history, rank 0's RNG states, the run's identity (stage, mode, seed, batch)
    rng-<rank>.pt  each rank's RNG states (dropout draws differ per rank)
The data position is the step itself (see sampler.py). The folder is written under a temporary
name and renamed, and `OUT/checkpoints/last` names the newest complete one, so a kill during a
save leaves the previous checkpoint usable. Only the newest `keep` checkpoints stay on disk.
"""
from __future__ import annotations

import os
import random
import shutil
from typing import Callable, Dict, Optional

import numpy as np
import torch

IDENTITY = ("stage", "mode", "seed", "batch_size", "steps", "lora_r")


def rng_state() -> Dict:
    s = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: Dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def trainable_state(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(out: str, step: int, model, optimizer, scheduler, extra: Dict, rank: int,
                    barrier: Callable[[], None], keep: int = 2) -> Optional[str]:
    root = os.path.join(out, "checkpoints")
    name = f"step-{step:07d}"
    tmp = os.path.join(root, name + ".tmp")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    barrier()
    torch.save(rng_state(), os.path.join(tmp, f"rng-{rank}.pt"))
    barrier()
    if rank != 0:
        barrier()
        return None
    state = {"step": step, "trainable": trainable_state(model), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), **extra}
    torch.save(state, os.path.join(tmp, "state.pt"))
    final = os.path.join(root, name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    with open(os.path.join(root, "last.tmp"), "w") as f:
        f.write(name + "\n")
    os.replace(os.path.join(root, "last.tmp"), os.path.join(root, "last"))
    old = sorted(d for d in os.listdir(root) if d.startswith("step-") and not d.endswith(".tmp"))
    for d in old[:-keep] if keep > 0 else []:
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
    barrier()
    return final


def last_checkpoint(out: str) -> Optional[str]:
    p = os.path.join(out, "checkpoints", "last")
    if not os.path.isfile(p):
        return None
    d = os.path.join(out, "checkpoints", open(p).read().strip())
    return d if os.path.isfile(os.path.join(d, "state.pt")) else None


def load_checkpoint(path: str, model, optimizer, scheduler, identity: Dict, rank: int) -> Dict:
    """Restore into model/optimizer/scheduler and this rank's RNG; returns the saved state (step,
    losses, ...). A checkpoint of another run (stage, mode, seed, batch) is refused."""
    state = torch.load(os.path.join(path, "state.pt"), map_location="cpu", weights_only=False)
    for k in IDENTITY:
        if state.get("identity", {}).get(k) != identity.get(k):
            raise ValueError(f"{path}: made by a run with {k}={state.get('identity', {}).get(k)!r}, this run has "
                             f"{identity.get(k)!r}; use another --out or drop --resume")
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in state["trainable"]]
    if missing:
        raise ValueError(f"{path}: no saved values for {missing[:3]}...")
    with torch.no_grad():
        for n, t in state["trainable"].items():
            params[n].copy_(t.to(params[n].device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rp = os.path.join(path, f"rng-{rank}.pt")
    set_rng_state(torch.load(rp if os.path.isfile(rp) else os.path.join(path, "rng-0.pt"), weights_only=False))
    return state
