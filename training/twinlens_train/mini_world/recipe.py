"""The mini-world recipe: what the stages of train.py share with the modules that read their checkpoints
(export, eval_reference, bounds). Imports nothing of the mini_world package, so every module can import it.

  FULL / QUICK          sizes and steps of recipe v2.2 (the previous one) and of the --quick smoke run
  V3, RECIPES, SHIPPED_RECIPE  the shipped recipe (encoders trained longer, a folded 16x16 tap, stage 3 pair
                        curriculum); recipes by name
  V4, reader_autocast   v3 with the reader stages under bfloat16 autocast (tried for the time budget; not shipped)
  MODES, PROJ_KEYS      the answer modes and the projectors each one trains
  SEED, TUNE_LR, DESCRIBE, DETAIL, log, seed_all, lr_at
  final_checkpoint      the stage-2 or stage-3 checkpoint of a mode, as the recipe says
  Ctx                   a run: its config, work folder (checkpoints), pack folder, tokenizers, model loaders
  load_features         the features stage's output
  prompt_token_ids, expand_image, splice, SeqCache, lm_loss, optimise, visual, Standardize, new_llm
  stage_llm             stage `llm` (the stage-0 LLM), also the reader LLM of bounds' variants
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from twinlens_train.models import (CLIPTextModel, CLIPVisionModelWithProjection, LlamaForCausalLM,
                                   UNet2DConditionModel, VAEEncoder)
from twinlens_train.mw_models import FeatureExtractor, configs, llm_tok_json, text_tok_json
from twinlens_train.pipeline import SD_TAPS
from twinlens_train.paths import WORK, recipe_work
from twinlens_train.tokenizer import ReferenceTokenizer, render_chat

MODES = ["clip", "diffusion", "fused", "fused-xattn", "leaky"]
SEED = 1234
TUNE_LR = 2e-3
DESCRIBE = "describe the image"
DETAIL = "what is there"  # answered with the dense description (every object, left to right)

# Sized for <= 90 min on 2 CPU cores. 1000 scenes x 4 questions over-fitted (train 63 % / val 47 % first-token
# accuracy after 4000 steps); 4000 scenes x 6 questions plus detailed descriptions (dense_bs per batch) reached
# 60 % val for CLIP-only in the same steps (experiments logged in the model card). Stage 2 runs 8000 steps
# since the bounds (bounds.py): the oracle reader reached 76 % on validation after 3000 steps and 93 %
# after 8000 (torch 2.13 makes a step about 2.4x faster than Debian's torch 1.13 did). v2.1: the loss is a
# mean per row (lm_loss) and stage 2 runs 10000 steps; the readers still learned in jumps between 4000 and 8000.
# v2.2: the image comes AFTER the question (image_last; the pack says llm.imagePlacement "after-question"), so the
# causal reader reads the visual tokens already knowing what is asked, and stage 2 runs 16000 steps. On the
# validation split the oracle reader reached 91.0 % with the image first and 99.1 % with it last (16000 steps
# each, bounds.py --image-last; experiments table in the model card).
FULL = dict(n_train=4000, n_val=100, q_per_scene=6, n_train_pairs=400, n_val_pairs=30, n_test=300, n_test_pairs=100,
            clip_steps=400, clip_bs=32, vae_steps=300, vae_bs=16, unet_steps=600, unet_bs=16,
            llm_steps=400, llm_bs=32, align_steps=150, align_bs=24, tune_steps=16000, tune_bs=24, dense_bs=12,
            image_last=True, tap="U-L1-R1-B0-Cross-Q", fold=1,
            tap_sweep=["U-L1-R1-B0-Cross-Q", "U-L1-R2-B0-Cross-Q", "D-L2-R0-B0-Cross-Q", "U-L1-R1-B0-Out"], pair_extra=2000, pair_val=200, pair_steps=0, pair_lr=5e-4, pair_bs=8, pair_qa_bs=16,
            pair_cap_bs=4, pair_dense_bs=8)
# v3 (shipped since 2026-12-03): the encoder side and a pair curriculum, decided on the validation
# split (experiments in the model card's "v3" section). Small-object probes of the v2.2 encoders (bounds.py
# --small-probes; colour / shape of the small objects from the token under their centre, MLP probe): raw pixels
# 99.6 / 95.5 %, VAE latents 99.6 / 79.9 %, the 8x8 Cross-Q tap 75.4 / 46.0 % (shape at chance), the 16x16 resnet
# tap U-L2-R2-Res-Out folded 2x2 into 8x8 tokens 97.4 / 64.7 %, CLIP 94.1 / 46.7 %: pairs failed at the tap,
# not at the reader. So v3 reads U-L2-R2-Res-Out folded by 2 (still 64 visual tokens, 128 channels). Readers
# of 4000 steps on the same UNet (3000 steps): the folded tap reached validation pair accuracy 33.5 % against
# 20.0 % for the 8x8 tap, and 63.5 vs 58.2 % on ordinary questions. Training the UNet 5x longer raised the
# 8x8 tap's small-colour probe 75 -> 86 % and the folded tap's shape probe 65 -> 70 %; the VAE 5x longer raised
# its latents' small-shape probe 80 -> 94 %. Stage 3 (pairs.py) on v2.1's diffusion reader: validation pair
# accuracy 29.5 -> 34.0 % (2000 steps), ordinary questions 66.2 -> 69.2 %.
V3 = dict(FULL, vae_steps=1500, unet_steps=3000, tap="U-L2-R2-Res-Out", fold=2,
          tap_sweep=["U-L2-R2-Res-Out", "U-L2-R1-Res-Out", "U-L2-R0-Res-Out"], pair_steps=2000)
# v4 (tried, not shipped): v3's sizes, steps and seeds with the reader stages (stage 2, stage 3, the bounds' blind
# and oracle readers) under bfloat16 autocast (reader_dtype; weights, optimiser state and the loss stay float32, the
# exported ONNX graphs are float32 as before). v3 did not fit the 150-minute budget on two cores: on a 2-vCPU AMD
# EPYC (Zen 4) its run from nothing needs ~2 h 50 min, stage 2 being ~4 core-hours. Fewer steps were ruled out by
# the bounds (the oracle reader learns count only between 12000 and 16000 steps), and exact rewrites of the step
# gained ~10 % or less (bench: python -m twinlens_train.bench.reader_step). In a run from nothing on that CPU v4's
# stage 2 was 1.32-1.37x faster (a run ~2 h 30 min, at the budget), but its readers scored lower on validation
# (clip 55.7 vs 61.8/62.7 %, fused 71.3 vs 82.0/75.2 %; model card, "Recipe v4"). CPUs without native bf16
# emulate it and run slower than float32: reader_autocast says so in the log.
V4 = dict(V3, reader_dtype="bfloat16")
RECIPES = {"v2.2": FULL, "v3": V3, "v4": V4}
SHIPPED_RECIPE = "v3"  # the recipe models/mini-world was trained with (tests/test_pairs_stage.py checks pack.json)

QUICK = dict(n_train=48, n_val=12, q_per_scene=3, n_train_pairs=8, n_val_pairs=4, n_test=12, n_test_pairs=4,
             clip_steps=3, clip_bs=16, vae_steps=3, vae_bs=8, unet_steps=3, unet_bs=8,
             llm_steps=3, llm_bs=8, align_steps=2, align_bs=8, tune_steps=3, tune_bs=8, dense_bs=2, image_last=True, tap="U-L2-R2-Res-Out", fold=2,
             tap_sweep=["U-L2-R2-Res-Out", "U-L2-R1-Res-Out"],
             pair_extra=6, pair_val=4, pair_steps=3, pair_lr=5e-4, pair_bs=2, pair_qa_bs=4, pair_cap_bs=1,
             pair_dense_bs=2)


def seed_shift() -> int:
    """MW_SEED_SHIFT (experiments only; 0 in the recipe): added to the seed of each mode's stages 2 and 3, to measure
    how much of a difference between two modes a reader's seed alone makes."""
    return int(os.environ.get("MW_SEED_SHIFT", "0"))


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def seed_all(s: int):
    torch.manual_seed(s)
    np.random.seed(s % (2 ** 32))


IMAGE_ID = ReferenceTokenizer(llm_tok_json()).token_to_id("<image>")


class Ctx:
    def __init__(self, quick: bool, pack: str, work: str = None, recipe: str = SHIPPED_RECIPE):
        self.quick = quick
        self.recipe = recipe
        self.cfg = QUICK if quick else RECIPES[recipe]
        # v2.2's folder keeps its historic name; every other recipe has its own (not tied to SHIPPED_RECIPE, so
        # shipping another recipe does not point it at v2.2's checkpoints)
        self.work = work or (os.path.join(WORK, "quick") if quick else recipe_work(recipe))
        self.pack = pack
        os.makedirs(self.work, exist_ok=True)
        self.ttok_json, self.ltok_json = text_tok_json(), llm_tok_json()
        self.ttok, self.ltok = ReferenceTokenizer(self.ttok_json), ReferenceTokenizer(self.ltok_json)
        self.pad_text = self.ttok.token_to_id("<|endoftext|>")
        self.image_id = self.ltok.token_to_id("<image>")
        assert self.image_id == IMAGE_ID
        self.mc = configs(len(self.ttok.vocab), len(self.ltok.vocab), self.pad_text, quick)
        self._data = None
        self.times = self._load_json("times.json", {})

    def path(self, name: str) -> str:
        return os.path.join(self.work, name)

    def _load_json(self, name, default):
        p = self.path(name)
        return json.load(open(p)) if os.path.exists(p) else default

    def save_json(self, name, obj):
        with open(self.path(name), "w") as f:
            json.dump(obj, f, indent=1)

    def data(self) -> dict:
        if self._data is None:
            z = np.load(self.path("data.npz"))
            self._data = {k: z[k] for k in z.files}
            self._data.update(json.load(open(self.path("data.json"))))
        return self._data

    # ---- models
    def text(self) -> CLIPTextModel:
        m = CLIPTextModel(self.mc["text"])
        m.load_state_dict(torch.load(self.path("clip.pt"))["text"])
        return m.eval()

    def vision(self) -> CLIPVisionModelWithProjection:
        m = CLIPVisionModelWithProjection(self.mc["vision"])
        m.load_state_dict(torch.load(self.path("clip.pt"))["vision"])
        return m.eval()

    def vae(self):
        ck = torch.load(self.path("vae.pt"))
        m = VAEEncoder(self.mc["vae"])
        m.load_state_dict(ck["encoder"])
        return m.eval(), float(ck["latent_scale"])

    def unet(self) -> UNet2DConditionModel:
        m = UNet2DConditionModel(self.mc["unet"])
        m.load_state_dict(torch.load(self.path("unet.pt"))["unet"])
        return m.eval()

    def latents(self, fx: FeatureExtractor) -> np.ndarray:
        """Scaled posterior means of every image, computed once (the VAE's 32x32 mid-block attention
        makes encoding ~60 ms an image on one core) and shared by the unet and features stages."""
        p = self.path("latents.npy")
        inputs = max(os.path.getmtime(self.path(f)) for f in ("vae.pt", "data.npz"))
        if os.path.exists(p) and os.path.getmtime(p) >= inputs:
            return np.load(p)
        x = fx.latents(self.data()["images"], bs=16)
        np.save(p, x)
        return x

    def extractor(self) -> FeatureExtractor:
        vae, scale = self.vae()
        return FeatureExtractor(vae, self.text(), self.unet(), self.ttok, self.pad_text, scale,
                                tap_path=SD_TAPS[self.cfg["tap"]], fold=self.cfg["fold"])

    def diffusion_dim(self) -> int:
        """Channels of the diffusion tokens the projectors read (the tap's, times fold^2)."""
        with np.load(self.path("features.npz")) as z:
            return int(z["uncond"].shape[-1])


def final_checkpoint(c: Ctx, mode: str) -> str:
    """The checkpoint of a mode that export and eval read: stage 3's (pairs.py) when the recipe has it."""
    return f"pairs-{mode}.pt" if c.cfg.get("pair_steps") else f"tune-{mode}.pt"


def lr_at(step: int, total: int, base: float, warm: int = 20) -> float:
    if step < warm:
        return base * (step + 1) / warm
    return base * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def load_features(c: Ctx) -> Dict[str, torch.Tensor]:
    z = np.load(c.path("features.npz"))
    return {k: torch.from_numpy(z[k]) for k in z.files}


# ------------------------------------------------------------------ llm helpers
def prompt_token_ids(c: Ctx, question: str) -> List[int]:
    """Chat prompt ids with one <image> placeholder: before the question (LLaVA's order) or, with
    cfg image_last, after it."""
    content = f"{question}\n<image>" if c.cfg.get("image_last") else f"<image>\n{question}"
    ids = c.ltok.encode(render_chat([{"role": "user", "content": content}]), add_special_tokens=False).ids
    assert ids.count(c.ltok.token_to_id("<image>")) == 1, ids
    return ids


def expand_image(p: List[int], image_id: int, n: int) -> List[int]:
    """The prompt with its <image> placeholder repeated n times (one position per visual token)."""
    k = p.index(image_id)
    return p[:k] + [image_id] * n + p[k + 1:]


def splice(emb: torch.Tensor, ids: torch.Tensor, vis: torch.Tensor, image_id: int) -> torch.Tensor:
    """Visual tokens [b,N,H] in place of the N <image> positions of each row (wherever they sit)."""
    mask = (ids == image_id).unsqueeze(-1)
    return emb.masked_scatter(mask, vis.to(emb.dtype))


class SeqCache:
    def __init__(self, c: Ctx):
        self.c = c
        self.cache = {}
        self.eos = c.ltok.token_to_id("</s>")

    def get(self, q: str, a: str):
        k = (q, a)
        if k not in self.cache:
            p = prompt_token_ids(self.c, q)
            ans = self.c.ltok.encode(a, add_special_tokens=False).ids + [self.eos]
            self.cache[k] = (p, ans)
        return self.cache[k]


def lm_loss(llm: LlamaForCausalLM, seqs, vis: torch.Tensor = None) -> torch.Tensor:
    """seqs: [(prompt_ids, answer_ids)]; vis [b,N,H] replaces the <image> token (expanded to N)."""
    n_vis = vis.shape[1] if vis is not None else 1
    image_id = IMAGE_ID
    rows, tgts = [], []
    for p, a in seqs:
        ids = expand_image(p, image_id, n_vis) + a
        tgt = [-100] * (len(ids) - len(a)) + a
        rows.append(ids)
        tgts.append(tgt)
    L = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (L - len(r)) for r in rows])
    tgt = torch.tensor([t + [-100] * (L - len(t)) for t in tgts])
    emb = llm.embed(ids)
    if vis is not None:
        emb = splice(emb, ids, vis, image_id)
    logits, _ = llm(emb)
    # Mean over each row's answer tokens, then over rows: every question counts as much as a detailed
    # description (~20 tokens). With the mean over all tokens, the one-word answers were ~8 % of the
    # gradient and the oracle reader reached 70.1 % (val, 4000 steps) against 77.5 % this way; 83.5 vs
    # 89.2 % at 8000 steps (bounds.py, experiments in the model card).
    t = tgt[:, 1:]
    tok = F.cross_entropy(logits[:, :-1].transpose(1, 2), t, ignore_index=-100, reduction="none")
    n = (t != -100).sum(1).clamp_min(1)
    return (tok.sum(1) / n).mean()


_warned_bf16 = []


def reader_autocast(c: "Ctx"):
    """The forward pass of a reader step (projector + LLM) under bfloat16 autocast when the recipe says
    reader_dtype "bfloat16" (v4), else a no-op context (v3 and earlier: float32, bit for bit as before)."""
    on = c.cfg.get("reader_dtype") == "bfloat16"
    if on and not _warned_bf16 and not (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()):
        _warned_bf16.append(True)
        log("note: this CPU has neither AVX512-BF16 nor AMX; bfloat16 is emulated and the reader stages will run "
            "slower than float32")
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=on)


def optimise(llm: LlamaForCausalLM, seqs, vis_fn, opt, params, amp) -> float:
    """One step of stages 2 and 3: the per-row loss, gradients clipped at 1, AdamW. Returns the loss.
    vis_fn() gives the visual tokens; it and the LLM run inside `amp` (reader_autocast), the backward pass and the
    optimiser outside it."""
    with amp:
        loss = lm_loss(llm, seqs, vis_fn())
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return loss.item()


# stage `llm` of train.py; bounds.py pre-trains the reader LLM of its variants with it (same recipe)
def stage_llm(c: Ctx):
    seed_all(SEED + 5)
    d = c.data()
    lo, hi = d["train_images"]
    items = [(DESCRIBE, d["captions"][i]) for i in range(lo, hi)]
    items += [(DETAIL, d["dense"][i]) for i in range(lo, hi)]
    items += [(q[1], q[2]) for q in d["qas"] if q[5] == "train"]
    llm = LlamaForCausalLM(c.mc["llm"])
    with torch.no_grad():
        for name, p in llm.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.02)
    log(f"llm params {sum(p.numel() for p in llm.parameters())}")
    sc = SeqCache(c)
    opt = torch.optim.AdamW(llm.parameters(), lr=2e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(SEED + 5)
    steps, bs = c.cfg["llm_steps"], c.cfg["llm_bs"]
    for step in range(steps):
        idx = torch.randperm(len(items), generator=g)[:bs].tolist()
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 2e-3)
        loss = lm_loss(llm, [sc.get(*items[i]) for i in idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(llm.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"llm step {step}/{steps} loss {loss.item():.3f}")
    torch.save({"llm": llm.state_dict()}, c.path("llm0.pt"))


def new_llm(c: Ctx, path: str = "llm0.pt") -> LlamaForCausalLM:
    llm = LlamaForCausalLM(c.mc["llm"])
    llm.load_state_dict(torch.load(c.path(path))["llm"])
    return llm


def visual(mode: str, projs: Dict[str, torch.nn.Module], clip_f, diff_f) -> torch.Tensor:
    if mode == "clip":
        return projs["clip"](clip_f)
    if mode == "diffusion":
        return projs["diffusion"](diff_f)
    if mode == "leaky":
        return projs["leaky"](diff_f)
    if mode == "fused":
        return torch.cat([projs["clip"](clip_f), projs["diffusion"](diff_f)], dim=1)
    if mode == "fused-xattn":
        return projs["fused_xattn"](clip_f, diff_f)
    raise ValueError(mode)


PROJ_KEYS = {"clip": ["clip"], "diffusion": ["diffusion"], "fused": ["clip", "diffusion"],
             "fused-xattn": ["fused_xattn"], "leaky": ["leaky"]}


class Standardize(torch.nn.Module):
    """Per-channel standardisation of projector inputs during training ((x - mu) / sd, stats of the
    training features); folded into linear_1 of the MLP projector when saved, so the exported
    projector takes the raw features. The diffusion tap features vary across images by only ~1/5 of
    their fixed offset; without it the projectors barely learned from them."""

    def __init__(self, proj, mu, sd):
        super().__init__()
        self.proj = proj
        self.register_buffer("mu", mu)
        self.register_buffer("sd", sd)

    def forward(self, x):
        return self.proj((x - self.mu) / self.sd)

    def folded(self):
        p = copy.deepcopy(self.proj)
        with torch.no_grad():
            w = p.linear_1.weight / self.sd[None, :]
            p.linear_1.bias.copy_(p.linear_1.bias - w @ self.mu)
            p.linear_1.weight.copy_(w)
        x = torch.randn(2, 5, len(self.mu)) * self.sd + self.mu
        assert torch.allclose(p(x), self(x), atol=1e-4, rtol=1e-3)
        return p
