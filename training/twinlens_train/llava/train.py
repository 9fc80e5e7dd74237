"""Command line of the LLaVA trainer.

    python -m twinlens_train.llava.train --stage 1 --mode fused --data pretrain.json \
        --features feats-stage1/ --llm Qwen2-0.5B-Instruct/ --out runs/s1-fused
    torchrun --nproc_per_node 8 -m twinlens_train.llava.train --stage 2 --mode fused \
        --data instruct.json --features feats-stage2/ --llm Qwen2-0.5B-Instruct/ \
        --projector runs/s1-fused/projector.safetensors --out runs/s2-fused --resume

Under torchrun the world size and ranks come from the environment (gloo on CPU, nccl on CUDA).
Outputs in --out: projector.safetensors + projector.json, llm/ (stage 2; with --lora-r the adapters merged
in, and lora/ the adapters alone), loss.json, loss.png,
data-report.json, checkpoints/ (every --checkpoint-every steps; --resume continues from the last).
"""
from __future__ import annotations

import argparse
import os
import sys

from .model import MODES
from .trainer import StopRequested, TrainConfig, train

STOP_EXIT = 75  # what --stop-after-step exits with (distinct from success and from Python errors)


def parse(argv=None) -> TrainConfig:
    ap = argparse.ArgumentParser(prog="python -m twinlens_train.llava.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", type=int, choices=[1, 2], required=True)
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--data", nargs="+", required=True, help=".json (LLaVA list) or .jsonl (suite) files")
    ap.add_argument("--image-folder", help="folder the LLaVA json's image paths are relative to (default: its folder)")
    ap.add_argument("--features", required=True, help="feature folder (manifest.json + safetensors shards)")
    ap.add_argument("--llm", required=True, help="transformers causal LM folder (with its tokenizer)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--projector", help="stage 2: start from this projector.safetensors (stage 1's)")
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (default: --epochs worth)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=8, help="GLOBAL batch: all ranks and micro-batches")
    ap.add_argument("--micro-batch", type=int, default=1, help="per rank per forward; the rest is accumulation")
    ap.add_argument("--lr", type=float, default=None, help="default 1e-3 (stage 1) / 2e-5 (stage 2), as LLaVA-1.5")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--warmup", type=float, default=0.03, help="warm-up fraction of the steps")
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--p-drop", type=float, default=0.3, help="stage 2: probability of unconditional diffusion features")
    ap.add_argument("--max-length", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--xattn-heads", type=int, default=2)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--keep-checkpoints", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="continue from --out's last checkpoint (if any)")
    ap.add_argument("--stop-after-step", type=int, default=0,
                    help="exit abruptly right after the first checkpoint at or past this step (tests of --resume)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads per process (0: torch's default)")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    ap.add_argument("--check-images", choices=["verify", "decode", "exists", "none"], default="verify")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--lora-r", type=int, default=0, help="stage 2: LoRA rank instead of tuning the whole LLM (0: off)")
    ap.add_argument("--lora-alpha", type=int, default=16)
    ap.add_argument("--lora-dropout", type=float, default=0.0)
    ap.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                    help="comma list of the LLM's linear module names that get adapters")
    a = ap.parse_args(argv)
    lr = a.lr if a.lr is not None else (1e-3 if a.stage == 1 else 2e-5)
    return TrainConfig(stage=a.stage, mode=a.mode, data=a.data, features=a.features, llm=a.llm, out=a.out,
                       image_folder=a.image_folder, projector=a.projector, steps=a.steps, epochs=a.epochs,
                       batch_size=a.batch_size, micro_batch=a.micro_batch, lr=lr, weight_decay=a.weight_decay,
                       warmup=a.warmup, max_grad_norm=a.max_grad_norm, p_drop=a.p_drop, max_length=a.max_length,
                       seed=a.seed, xattn_heads=a.xattn_heads, checkpoint_every=a.checkpoint_every,
                       keep_checkpoints=a.keep_checkpoints, resume=a.resume, stop_after_step=a.stop_after_step,
                       log_every=a.log_every, threads=a.threads, workers=a.workers, check_images=a.check_images,
                       device=a.device, lora_r=a.lora_r, lora_alpha=a.lora_alpha, lora_dropout=a.lora_dropout,
                       lora_targets=a.lora_targets)


def main(argv=None) -> int:
    cfg = parse(argv)
    try:
        train(cfg)
    except StopRequested as e:
        print(f"train: {e}", flush=True)
        sys.stdout.flush()
        os._exit(STOP_EXIT)  # no clean-up, like a kill: what survives is what the checkpoint holds
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
