"""The LLaVA training loop, single-process or under torchrun + DistributedDataParallel.

One optimizer step = one global batch of `batch_size` samples, split over ranks and micro-batches
(sampler.py). Each micro-batch's loss is its SUM of answer-token cross-entropies divided by the
answer-token count of the whole global batch (one all-reduce per step), times the world size
because DDP averages gradients over ranks. The gradient is then exactly the token-mean gradient of
the global batch, whatever the world size and accumulation, which the DDP-equivalence test checks.

Stage 1 trains the projector(s) with the LLM frozen; stage 2 the projector(s) and the whole LLM, or
with --lora-r the projector(s) and LoRA adapters on the LLM's linear layers (`peft`): the adapters are
merged into the saved llm/ (so export and the app see a plain model) and also kept in lora/.
bf16 autocast on CUDA only (CPU runs stay float32 and bit-reproducible).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from .checkpoint import last_checkpoint, load_checkpoint, save_checkpoint
from .curve import draw_loss_png, write_loss_json
from .data import read_datasets
from .dataset import Collator, LlavaDataset, keep_with_features
from .model import LlavaModel, uses
from .prompt import PromptBuilder, ensure_image_token
from .sampler import GlobalBatchSampler, StepBatches
from .shards import FeatureStore


class StopRequested(Exception):
    """--stop-after-step: the run stops right after a checkpoint, as if killed (tests of --resume)."""


@dataclass
class TrainConfig:
    stage: int
    mode: str
    data: List[str]
    features: str
    llm: str
    out: str
    image_folder: Optional[str] = None
    projector: Optional[str] = None  # stage 2: projector.safetensors of stage 1
    steps: int = 0  # 0: epochs x steps per epoch
    epochs: float = 1.0
    batch_size: int = 8  # global batch (all ranks, all accumulation micro-batches)
    micro_batch: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup: float = 0.03  # fraction of the steps
    max_grad_norm: float = 1.0
    p_drop: float = 0.3
    max_length: int = 2048
    seed: int = 0
    xattn_heads: int = 2
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    resume: bool = False
    stop_after_step: int = 0
    log_every: int = 1
    threads: int = 0  # 0: leave torch's default
    workers: int = 0
    check_images: str = "verify"
    device: str = "auto"
    lora_r: int = 0  # stage 2: LoRA rank (0: tune the whole LLM)
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: str = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
    extra: dict = field(default_factory=dict)


class Dist:
    """World size, rank and device from torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK)."""

    def __init__(self, device: str = "auto"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
        self.device = torch.device("cuda", self.local_rank) if cuda else torch.device("cpu")
        self.cuda = cuda
        if cuda:
            torch.cuda.set_device(self.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, x: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            x = x.clone()
            dist.all_reduce(x)
        return x

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def lr_lambda(total: int, warmup: int):
    """Linear warm-up then cosine decay to 0 (LLaVA's schedule)."""

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    return f


def with_lora(llm, cfg: TrainConfig):
    """The LLM with LoRA adapters on cfg.lora_targets (peft); every base weight frozen."""
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in llm.named_modules()}
    targets = [t for t in cfg.lora_targets.split(",") if t]
    missing = [t for t in targets if t not in names]
    if missing:
        raise SystemExit(f"--lora-targets: the LLM has no modules named {', '.join(missing)}")
    return get_peft_model(llm, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                          target_modules=targets, bias="none"))


def _fmt_time(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def train(cfg: TrainConfig) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dd = Dist(cfg.device)
    log = (lambda *a: print(*a, flush=True)) if dd.rank == 0 else (lambda *a: None)
    try:
        return _train(cfg, dd, log, AutoModelForCausalLM, AutoTokenizer)
    finally:
        dd.close()
        torch.set_num_threads(threads)  # an in-process caller (tests) keeps its own setting


def _train(cfg: TrainConfig, dd: Dist, log, AutoModelForCausalLM, AutoTokenizer) -> dict:
    os.makedirs(cfg.out, exist_ok=True)
    # ---- data
    store = FeatureStore(cfg.features, verify=True)
    examples, report = read_datasets(cfg.data, cfg.image_folder, cfg.check_images)
    examples = keep_with_features(examples, store, report)
    log(f"data: {report.summary()}")
    if dd.rank == 0:
        with open(os.path.join(cfg.out, "data-report.json"), "w") as f:
            json.dump(report.to_dict(), f, indent=1)
    # ---- model (same init on every rank: seeded, and DDP broadcasts rank 0's values anyway)
    torch.manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(cfg.llm)
    llm = AutoModelForCausalLM.from_pretrained(cfg.llm, dtype=torch.float32)
    image_id = ensure_image_token(tok, llm)
    if cfg.lora_r and cfg.stage == 2:
        llm = with_lora(llm, cfg)
    elif cfg.lora_r:
        log("lora: ignored in stage 1 (the LLM is frozen there)")
    model = LlavaModel(llm, cfg.mode, image_id, store.shapes["clip"], store.shapes["diffusion"], cfg.xattn_heads)
    if cfg.projector:
        model.projectors.load_state_dict(load_file(cfg.projector))
        log(f"projector: initialised from {cfg.projector}")
    if cfg.stage == 1:
        llm.requires_grad_(False)
        llm.eval()  # frozen: no dropout either
    model.to(dd.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    net = model
    if dd.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dd.local_rank] if dd.cuda else None)
    prompts = PromptBuilder(tok, image_id, model.n_image_tokens, cfg.stage, cfg.max_length)
    ds = LlavaDataset(examples, store, prompts, cfg.mode, cfg.stage, cfg.p_drop, cfg.seed)
    sampler = GlobalBatchSampler(len(ds), cfg.batch_size, cfg.micro_batch, dd.world, dd.rank, cfg.seed)
    total = cfg.steps or max(1, int(cfg.epochs * sampler.steps_per_epoch))
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(total, int(cfg.warmup * total)))
    identity = {"stage": cfg.stage, "mode": cfg.mode, "seed": cfg.seed, "batch_size": cfg.batch_size, "steps": total}
    if cfg.lora_r and cfg.stage == 2:
        identity["lora_r"] = cfg.lora_r  # a resume with another adapter shape must not load these weights
    start, history = 0, []
    if cfg.resume:
        ck = last_checkpoint(cfg.out)
        if ck:
            st = load_checkpoint(ck, model, opt, sched, identity, dd.rank)
            start, history = st["step"], st["losses"]
            log(f"resume: {ck} (step {start}/{total})")
        else:
            log("resume: no checkpoint yet, starting at step 0")
    log(f"train: stage {cfg.stage} mode {cfg.mode} | {len(ds)} examples | {total} steps of {cfg.batch_size} "
        f"({dd.world} rank(s) x {sampler.accumulation} micro-batch(es) of {cfg.micro_batch}) | "
        f"{sum(p.numel() for p in trainable):,} trainable params | {model.n_image_tokens} image tokens | "
        f"device {dd.device}")
    loader = torch.utils.data.DataLoader(ds, batch_sampler=StepBatches(sampler, start, total),
                                         collate_fn=Collator(tok.pad_token_id if tok.pad_token_id is not None
                                                             else tok.eos_token_id), num_workers=cfg.workers)
    micro_iter = iter(loader)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if dd.cuda else contextlib.nullcontext
    t0 = time.time()
    for step in range(start, total):
        micro = [next(micro_iter) for _ in range(sampler.accumulation)]
        tokens = dd.sum(torch.tensor(float(sum(int((b["labels"][:, 1:] != -100).sum()) for b in micro)),
                                     device=dd.device))
        denom = max(float(tokens), 1.0)
        loss_sum = torch.zeros((), device=dd.device)
        for k, b in enumerate(micro):
            b = {n: (v.to(dd.device) if v is not None else None) for n, v in b.items()}
            sync = k == len(micro) - 1 or dd.world == 1
            with (contextlib.nullcontext() if sync else net.no_sync()):
                with autocast():
                    ls, _ = net(**b)
                (ls * dd.world / denom).backward()
            loss_sum += ls.detach().float()
        if cfg.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss = float(dd.sum(loss_sum)) / denom
        history.append({"step": step + 1, "loss": loss, "lr": lr, "tokens": int(tokens)})
        done = step + 1
        if dd.rank == 0 and (done % cfg.log_every == 0 or done == total):
            el = time.time() - t0
            eta = el / (done - start) * (total - done)
            log(f"step {done}/{total} loss {loss:.4f} lr {lr:.2e} tokens {int(tokens)} "
                f"{el / (done - start):.2f}s/step eta {_fmt_time(eta)}")
        if done % cfg.checkpoint_every == 0 or done == total:
            ck = save_checkpoint(cfg.out, done, model, opt, sched,
                                 {"losses": history, "identity": identity, "config": asdict(cfg),
                                  # informative: the sampler derives the position from the step alone
                                  "data": {"epoch": sampler.epoch_of(done), "next_step": done,
                                           "epoch_step": done % sampler.steps_per_epoch}},
                                 dd.rank, dd.barrier, cfg.keep_checkpoints)
            if ck:
                log(f"checkpoint: {ck}")
            if cfg.stop_after_step and done >= cfg.stop_after_step and done < total:
                raise StopRequested(f"stopped after step {done} (--stop-after-step)")
    if dd.rank == 0:
        _save_outputs(cfg, model, tok, store, history, identity)
    dd.barrier()
    return {"steps": total, "final_loss": history[-1]["loss"] if history else None, "out": cfg.out}


def _save_outputs(cfg: TrainConfig, model: LlavaModel, tok, store: FeatureStore, history, identity) -> None:
    save_file(model.projector_state(), os.path.join(cfg.out, "projector.safetensors"))
    need_clip, need_diff = uses(cfg.mode)
    info = dict(identity, image_tokens=model.n_image_tokens, image_token=tok.convert_ids_to_tokens(
        model.image_token_id), hidden=model.llm.config.hidden_size, clip=list(store.shapes["clip"]) if need_clip
        else None, diffusion=list(store.shapes["diffusion"]) if need_diff else None, features=store.meta,
        p_drop=cfg.p_drop if cfg.stage == 2 else 0.0, xattn_heads=cfg.xattn_heads, llm=cfg.llm, final_loss=history[-1]["loss"])
    with open(os.path.join(cfg.out, "projector.json"), "w") as f:
        json.dump(info, f, indent=1)
    if cfg.stage == 2:
        llm = model.llm
        if cfg.lora_r:
            llm.save_pretrained(os.path.join(cfg.out, "lora"))  # the adapters alone (peft format)
            llm = llm.merge_and_unload()  # W + (alpha/r) B A: a plain transformers model for export
            model.llm = llm
        llm.save_pretrained(os.path.join(cfg.out, "llm"))
        tok.save_pretrained(os.path.join(cfg.out, "llm"))
    write_loss_json(os.path.join(cfg.out, "loss.json"), history, {"stage": cfg.stage, "mode": cfg.mode})
    draw_loss_png(os.path.join(cfg.out, "loss.png"), history, f"stage {cfg.stage} {cfg.mode}")
