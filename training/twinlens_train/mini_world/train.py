#!/usr/bin/env python3
"""Train the built-in mini-world pack from nothing and export it to models/mini-world.

From training/ (or with PYTHONPATH=training):
    python -m twinlens_train.mini_world.train            # every stage, resuming finished ones
    python -m twinlens_train.mini_world.train --quick    # a few steps of every stage (smoke test)
    python -m twinlens_train.mini_world.train --stage unet --force   # rerun one stage

Stages (each writes a checkpoint in training/.work/<full|quick>/ and is skipped when it exists):
  data     scenes, captions, questions, pairs (train/val); test suites -> <pack>/suites
  clip     CLIP ViT + text transformer, contrastive on (scene, coarse caption)
  vae      VAE (encoder exported, decoder training-only); latentScale = 1/std(latent mean)
  unet     UNet noise prediction (scaled-linear schedule, caption dropout 10%), frozen CLIP text
  features CLIP penultimate tokens; UNet tap features (uncond, question-guided s=4, caption-guided s=4)
  llm      decoder-only LM pre-trained on the chat-formatted text (no image content)
  align    stage 1: projectors on captions, LLM frozen (unconditional diffusion features; the
           leaky variant reads caption-conditioned features)
  tune     stage 2: projector + LLM decoder per mode on VQA + detailed descriptions (question-guided s=4,
           30% prompt dropout; modes split over --jobs worker processes;
           leaky: no dropout)
  pairdata more train pairs (new scenes) and a validation probe of pairs, with their features (pairs.py)
  pairs    stage 3, the pair curriculum: each mode continues from stage 2 with both images of a pair in
           one batch (pairs.py; recipes with pair_steps = 0, like the shipped v2.2, skip both)
  export   ONNX pack, pack.json, goldens for the TS agreement check (export.py)
  eval     eval_reference.py on the test suites -> <pack>/eval-python.json
  report   report.py: the TS engine's measurements, bounds, samples, model card
The shared pieces (config, Ctx, loss, prompt helpers, stage llm) are in recipe.py.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import time
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from twinlens_train import world
from twinlens_train.images import save_png
from twinlens_train.mini_world.export import stage_eval, stage_export
from twinlens_train.mini_world.recipe import (DESCRIBE, DETAIL, MODES, PROJ_KEYS, RECIPES, SEED, SHIPPED_RECIPE, TUNE_LR, Ctx,
                                              SeqCache,
                                              Standardize, expand_image, lm_loss, load_features, log, lr_at, optimise,
                                              new_llm, reader_autocast, seed_all, seed_shift, splice, stage_llm,
                                              visual)
from twinlens_train.mini_world.pairs import stage_pairdata, stage_pairs
from twinlens_train.mini_world import report
from twinlens_train.mini_world.report import stage_report
from twinlens_train.models import CLIPTextModel, CLIPVisionModelWithProjection, UNet2DConditionModel, VAEEncoder
from twinlens_train.mw_models import (GUIDANCE, FeatureExtractor, VAEDecoder, build_projectors, clip_penultimate,
                                      clip_pixels, vae_pixels)
from twinlens_train.paths import REPO, WORK, module_cmd, module_env
from twinlens_train.schedule import alphas_cumprod
from twinlens_train.tokenizer import prompt_ids


# `llm` (the stage-0 LLM) needs only `data`; it runs second so that the bounds' blind reader, which needs nothing
# else, can start in the background while the encoders train (report.start_bounds_early, report.BOUNDS_PARTS)
STAGES = ["data", "llm", "clip", "vae", "unet", "features", "align", "tune", "pairdata", "pairs", "export", "eval", "report"]


# ------------------------------------------------------------------ data
def stage_data(c: Ctx):
    cfg = c.cfg
    images, captions, dense, qas = [], [], [], []  # qas: [img, question, answer, category, target]

    def add_split(split, n, npairs, tag):
        start = len(images)
        for s in world.build_split(split, n, cfg["q_per_scene"]):
            i = len(images)
            images.append(s["image"])
            captions.append(s["caption"])
            dense.append(s["dense"])
            for q in s["qas"]:
                qas.append([i, q.question, q.answer, q.category, q.target, tag])
        for p in world.build_pairs(split + "-pairs", npairs):
            for side in ("a", "b"):
                i = len(images)
                images.append(p[f"image_{side}"])
                captions.append(p[f"caption_{side}"])
                dense.append(world.dense_caption(p[side]))
                qas.append([i, p["question"], p[f"answer_{side}"], p["category"], "small", tag])
        return start, len(images)

    tr = add_split("train", cfg["n_train"], cfg["n_train_pairs"], "train")
    va = add_split("val", cfg["n_val"], cfg["n_val_pairs"], "val")
    np.savez(c.path("data.npz"), images=np.stack(images))
    with open(c.path("data.json"), "w") as f:
        json.dump({"captions": captions, "dense": dense, "qas": qas, "train_images": tr, "val_images": va}, f)
    write_suites(c)
    log(f"data: {len(images)} images ({tr[1] - tr[0]} train, {va[1] - va[0]} val), {len(qas)} QA")


def write_suites(c: Ctx):
    cfg = c.cfg
    d = os.path.join(c.pack, "suites")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "images"))
    lines = []
    for i, s in enumerate(world.build_split("test", cfg["n_test"], 1)):
        q = s["qas"][0]
        fn = f"images/test-{i:04d}.png"
        save_png(os.path.join(d, fn), s["image"])
        lines.append({"id": f"test-{i:04d}", "image": fn, "question": q.question, "answer": q.answer,
                      "options": q.options, "category": q.category, "target": q.target, "caption": s["caption"],
                      "split": "test"})
    write_jsonl(os.path.join(d, "mini-world-test.jsonl"), lines)
    test_lines, lines = lines, []
    for i, p in enumerate(world.build_pairs("test-pairs", cfg["n_test_pairs"])):
        for side in ("a", "b"):
            fn = f"images/pair-{i:04d}{side}.png"
            save_png(os.path.join(d, fn), p[f"image_{side}"])
            lines.append({"id": f"pair-{i:04d}{side}", "image": fn, "question": p["question"],
                          "answer": p[f"answer_{side}"], "options": world.OPTIONS[p["category"]],
                          "pair": f"pair-{i:04d}", "category": p["category"], "target": "small",
                          "caption": p[f"caption_{side}"], "split": "pairs"})
    write_jsonl(os.path.join(d, "mini-world-pairs.jsonl"), lines)
    # both in one suite, so one eval file holds the per-mode accuracies (`--by split`) and the pair accuracy
    write_jsonl(os.path.join(d, "mini-world-all.jsonl"), test_lines + lines)


def write_jsonl(path: str, rows: List[dict]):
    with open(path, "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in rows)


# ------------------------------------------------------------------ clip
def stage_clip(c: Ctx):
    seed_all(SEED + 1)
    d = c.data()
    lo, hi = d["train_images"]
    imgs, caps = d["images"][lo:hi], d["captions"][lo:hi]
    text, vision = CLIPTextModel(c.mc["text"]), CLIPVisionModelWithProjection(c.mc["vision"])
    text_proj = torch.nn.Linear(c.mc["text"].hidden_size, c.mc["vision"].projection_dim, bias=False)
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))
    params = list(text.parameters()) + list(vision.parameters()) + list(text_proj.parameters()) + [logit_scale]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
    ids_all = torch.tensor([world_prompt_ids(c, s) for s in caps], dtype=torch.int32)
    pix_all = clip_pixels(imgs)
    g = torch.Generator().manual_seed(SEED + 1)
    steps, bs = c.cfg["clip_steps"], c.cfg["clip_bs"]
    for step in range(steps):
        idx = torch.randperm(len(caps), generator=g)[:bs]
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 1e-3)
        _, img_e = vision(pix_all[idx])
        _, pooled = text(ids_all[idx])
        ie, te = F.normalize(img_e, dim=-1), F.normalize(text_proj(pooled), dim=-1)
        logits = logit_scale.exp().clamp(max=100) * ie @ te.t()
        same = (ids_all[idx][:, None, :] == ids_all[idx][None, :, :]).all(-1).float()
        tgt = same / same.sum(1, keepdim=True)
        loss = 0.5 * (-(tgt * logits.log_softmax(1)).sum(1).mean() - (tgt * logits.log_softmax(0)).sum(0).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            acc = float((logits.argmax(1) == torch.arange(len(idx))).float().mul(same[torch.arange(len(idx)),
                                                                                        logits.argmax(1)]).mean())
            log(f"clip step {step}/{steps} loss {loss.item():.3f} i2t-acc {acc:.2f}")
    torch.save({"text": text.state_dict(), "vision": vision.state_dict(), "text_proj": text_proj.state_dict()},
               c.path("clip.pt"))


def world_prompt_ids(c: Ctx, text: str) -> List[int]:
    return prompt_ids(c.ttok, text, c.mc["text"].max_position_embeddings, c.pad_text)


# ------------------------------------------------------------------ vae
def stage_vae(c: Ctx):
    seed_all(SEED + 2)
    d = c.data()
    lo, hi = d["train_images"]
    pix = vae_pixels(d["images"][lo:hi])
    crop = 32 if not c.quick else 64  # fully convolutional: train on 32 px crops (4x cheaper)
    enc, dec = VAEEncoder(c.mc["vae"]), VAEDecoder(c.mc["vae"].latent_channels)
    opt = torch.optim.AdamW(list(enc.parameters()) + list(dec.parameters()), lr=2e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(SEED + 2)
    steps, bs = c.cfg["vae_steps"], c.cfg["vae_bs"]
    for step in range(steps):
        x = pix[torch.randperm(len(pix), generator=g)[:bs]]
        if crop < x.shape[-1]:
            oy, ox = torch.randint(0, x.shape[-1] - crop + 1, (2,), generator=g).tolist()
            x = x[:, :, oy:oy + crop, ox:ox + crop]
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 2e-3)
        mom = enc.moments(x)
        mean, logvar = mom.chunk(2, dim=1)
        logvar = logvar.clamp(-20, 10)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        rec = dec(z)
        # pixel loss weighted towards non-background pixels so small objects survive
        w = 1.0 + 4.0 * (x - x.mean(dim=(2, 3), keepdim=True)).abs().mean(1, keepdim=True)
        lrec = ((rec - x) ** 2 * w).mean()
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = lrec + 1e-4 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} rec {lrec.item():.4f} kl {kl.item():.3f}")
    enc.eval()
    with torch.no_grad():
        means = torch.cat([enc(pix[i:i + 256]) for i in range(0, min(len(pix), 1024), 256)])
    scale = float(1.0 / means.std())
    log(f"vae latent std {means.std().item():.4f} -> latentScale {scale:.5f}")
    torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict(), "latent_scale": scale}, c.path("vae.pt"))


# ------------------------------------------------------------------ unet
def stage_unet(c: Ctx):
    seed_all(SEED + 3)
    d = c.data()
    lo, hi = d["train_images"]
    vae, scale = c.vae()
    fx = FeatureExtractor(vae, c.text(), None, c.ttok, c.pad_text, scale)
    x0 = torch.from_numpy(c.latents(fx)[lo:hi])
    caps = d["captions"][lo:hi]
    ehs = fx.text_hidden(caps)
    empty = fx.text_hidden([""])[0]
    unet = UNet2DConditionModel(c.mc["unet"])
    nparams = sum(p.numel() for p in unet.parameters())
    log(f"unet params {nparams}")
    ac = torch.from_numpy(alphas_cumprod()).float()
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(SEED + 3)
    steps, bs = c.cfg["unet_steps"], c.cfg["unet_bs"]
    ema = None
    for step in range(steps):
        idx = torch.randperm(len(x0), generator=g)[:bs]
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, 1e-3)
        t = torch.randint(0, 1000, (len(idx),), generator=g)
        eps = torch.randn(x0[idx].shape, generator=g)
        a = ac[t][:, None, None, None]
        xt = a.sqrt() * x0[idx] + (1 - a).sqrt() * eps
        cond = ehs[idx].clone()
        drop = torch.rand(len(idx), generator=g) < 0.1
        cond[drop] = empty
        loss = F.mse_loss(unet(xt, t, cond), eps)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 50 == 0 or step == steps - 1:
            log(f"unet step {step}/{steps} loss {loss.item():.4f} ema {ema:.4f}")
    torch.save({"unet": unet.state_dict(), "final_loss_ema": ema}, c.path("unet.pt"))


# ------------------------------------------------------------------ features
def stage_features(c: Ctx):
    d = c.data()
    fx = c.extractor()
    imgs = d["images"]
    t0 = time.time()
    clipf = clip_penultimate(c.vision(), imgs)
    x_t = fx.noisy(c.latents(fx))
    n = len(imgs)
    fu = fx.tap(x_t, [""] * n)
    fcap = fx.tap(x_t, d["captions"])
    qas = d["qas"]
    fq = fx.tap(x_t[[q[0] for q in qas]], [q[1] for q in qas])
    s = np.float32(GUIDANCE)
    gq = fu[[q[0] for q in qas]] + s * (fq - fu[[q[0] for q in qas]])
    gcap = fu + s * (fcap - fu)
    np.savez(c.path("features.npz"), clip=clipf.astype(np.float16), uncond=fu.astype(np.float16),
             caption=gcap.astype(np.float16), question=gq.astype(np.float16))
    log(f"features: clip {clipf.shape} diffusion {fu.shape} question rows {gq.shape[0]} in {time.time() - t0:.0f}s; "
        f"std uncond {fu.std():.3f} guided {gq.std():.3f}")



def feature_stats(feats) -> Dict[str, tuple]:
    out = {}
    for k, src in (("clip", "clip"), ("diffusion", "uncond"), ("leaky", "uncond")):
        f = feats[src][:2000].float().reshape(-1, feats[src].shape[-1])
        out[k] = (f.mean(0), f.std(0).clamp_min(1e-3))
    return out


def standardized(projs, stats):
    """Wrap the MLP projectors (not the cross-attention one: it has its own LayerNorms)."""
    return {k: (Standardize(v, *stats[k]) if k in stats else v) for k, v in projs.items()}


def save_projs(projs, keys):
    return {k: (projs[k].folded() if isinstance(projs[k], Standardize) else projs[k]).state_dict() for k in keys}



# ------------------------------------------------------------------ stage 1
def stage_align(c: Ctx):
    d = c.data()
    feats = load_features(c)
    lo, hi = d["train_images"]
    llm = new_llm(c).eval()
    for p in llm.parameters():
        p.requires_grad_(False)
    sc = SeqCache(c)
    H = c.mc["llm"].hidden_size
    stats = feature_stats(feats)
    out = {"stats": stats}
    for k, mode in enumerate(["clip", "diffusion", "fused-xattn", "leaky"]):
        seed_all(SEED + 10 + k)
        projs = standardized(build_projectors(c.mc["vision"].hidden_size, feats["uncond"].shape[-1], H), stats)
        keys = PROJ_KEYS[mode]
        params = [p for kk in keys for p in projs[kk].parameters()]
        opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.0)
        g = torch.Generator().manual_seed(SEED + 10 + k)
        steps, bs = c.cfg["align_steps"], c.cfg["align_bs"]
        for step in range(steps):
            idx = (torch.randperm(hi - lo, generator=g)[:bs] + lo)
            for pg in opt.param_groups:
                pg["lr"] = lr_at(step, steps, 2e-3)
            diff_src = feats["caption"] if mode == "leaky" else feats["uncond"]
            vis = visual(mode, projs, feats["clip"][idx].float(), diff_src[idx].float())
            loss = lm_loss(llm, [sc.get(DESCRIBE, d["captions"][i]) for i in idx.tolist()], vis)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 50 == 0 or step == steps - 1:
                log(f"align[{mode}] step {step}/{steps} loss {loss.item():.3f}")
        for kk in keys:
            out[f"{mode}:{kk}"] = projs[kk].state_dict()  # unfolded (Standardize wrapper) for stage 2
    torch.save(out, c.path("align.pt"))


# ------------------------------------------------------------------ stage 2
# Stage-2 modes split over worker processes (one torch thread each): the cost of a step grows with the
# number of visual tokens, so `fused` (128 tokens) is about as slow as the three 64-token modes together.
TUNE_GROUPS = [["fused", "leaky"], ["clip", "diffusion", "fused-xattn"]]


def stage_tune_parallel(c: Ctx, jobs: int, argv: List[str], stage: str = "tune"):
    """Run stage 2 (or 3: stage "pairs") in `jobs` child processes (MW_MODES per group); each mode is seeded
    by its index in MODES, so the split does not change any checkpoint."""
    groups = [sum(TUNE_GROUPS[i::jobs], []) for i in range(jobs)]
    procs = []
    for i, g in enumerate(groups):
        env = module_env({"MW_MODES": ",".join(g)})
        logf = open(c.path(f"{stage}-worker{i}.log"), "w")
        log(f"{stage}: worker {i} trains {', '.join(g)} (log {logf.name})")
        args = ["--stage", stage] + argv
        procs.append((subprocess.Popen(module_cmd("twinlens_train.mini_world.train", *args), env=env, stdout=logf,
                                       stderr=subprocess.STDOUT), logf, g))
    failed = []
    for p, logf, g in procs:
        if p.wait() != 0:
            failed.append(f"{','.join(g)} (exit {p.returncode}, see {logf.name})")
        logf.close()
    if failed:
        raise SystemExit(f"stage {stage} failed: " + "; ".join(failed))
    missing = [m for m in MODES if not os.path.exists(c.path(f"{stage}-{m}.pt"))]
    if missing:
        raise SystemExit(f"stage {stage}: no checkpoint for {', '.join(missing)}")


def stage_tune(c: Ctx, modes=None):
    d = c.data()
    feats = load_features(c)
    al = torch.load(c.path("align.pt"))
    sc = SeqCache(c)
    H = c.mc["llm"].hidden_size
    train_q = [i for i, q in enumerate(d["qas"]) if q[5] == "train"]
    lo, hi = d["train_images"]
    img_of = torch.tensor([q[0] for q in d["qas"]])
    only = os.environ.get("MW_MODES")  # e.g. MW_MODES=fused-xattn,leaky to train modes in parallel processes
    for k, mode in enumerate(modes or MODES):
        if only and mode not in only.split(","):
            continue
        ck = c.path(f"tune-{mode}.pt")
        if os.path.exists(ck):
            log(f"tune[{mode}] exists, skipped")
            continue
        seed_all(SEED + 20 + k + seed_shift())
        projs = standardized(build_projectors(c.mc["vision"].hidden_size, feats["uncond"].shape[-1], H), al["stats"])
        src = {"clip": "clip", "diffusion": "diffusion", "fused": None, "fused-xattn": "fused-xattn",
               "leaky": "leaky"}[mode]
        for kk in PROJ_KEYS[mode]:
            projs[kk].load_state_dict(al[f"{src or kk}:{kk}"])
        llm = new_llm(c)
        llm.model.embed_tokens.weight.requires_grad_(False)  # shared embed_tokens.onnx across modes
        params = [p for kk in PROJ_KEYS[mode] for p in projs[kk].parameters()] + \
                 [p for p in llm.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=TUNE_LR, weight_decay=0.01)
        g = torch.Generator().manual_seed(SEED + 20 + k + seed_shift())
        steps, bs = int(os.environ.get("MW_TUNE_STEPS", c.cfg["tune_steps"])), c.cfg["tune_bs"]
        dropout = 0.0 if mode in ("leaky", "clip") else 0.3
        t0 = time.time()
        for step in range(steps):
            sel = torch.tensor(train_q)[torch.randperm(len(train_q), generator=g)[:bs]]
            for pg in opt.param_groups:
                pg["lr"] = lr_at(step, steps, TUNE_LR)
            imgs = img_of[sel]
            diff = feats["question"][sel].float()
            if dropout > 0:
                drop = torch.rand(len(sel), generator=g) < dropout
                diff[drop] = feats["uncond"][imgs[drop]].float()
            seqs = [sc.get(d["qas"][i][1], d["qas"][i][2]) for i in sel.tolist()]
            # keep captioning alive (the leakage probe captions): 1/6 of each batch is "describe the image";
            # its SD prompt is empty, except for the leaky control, which reads the caption-conditioned features
            cap = (torch.randperm(hi - lo, generator=g)[:max(1, bs // 6)] + lo)
            cdiff = (feats["caption"] if mode == "leaky" else feats["uncond"])[cap].float()
            imgs = torch.cat([imgs, cap])
            diff = torch.cat([diff, cdiff])
            seqs += [sc.get(DESCRIBE, d["captions"][i]) for i in cap.tolist()]
            # detailed descriptions: ~8 supervised attribute words per image instead of one answer word,
            # so reading size / colour / shape off the visual tokens is learned several times faster
            if c.cfg["dense_bs"]:
                den = (torch.randperm(hi - lo, generator=g)[:c.cfg["dense_bs"]] + lo)
                imgs = torch.cat([imgs, den])
                diff = torch.cat([diff, feats["uncond"][den].float()])
                seqs += [sc.get(DETAIL, d["dense"][i]) for i in den.tolist()]
            loss = optimise(llm, seqs, lambda: visual(mode, projs, feats["clip"][imgs].float(), diff), opt, params,
                            reader_autocast(c))
            if step % 100 == 0 or step == steps - 1:
                log(f"tune[{mode}] step {step}/{steps} loss {loss:.3f} ({time.time() - t0:.0f}s)")
        # projectors are saved FOLDED (raw-feature inputs): what eval_reference.py and the export use
        torch.save({"llm": llm.state_dict(), "projectors": save_projs(projs, PROJ_KEYS[mode]), "steps": steps,
                    "seconds": round(time.time() - t0, 1)}, ck)
        if not c.quick:
            val_acc(c, mode, llm, projs, feats)


@torch.no_grad()
def val_acc(c: Ctx, mode, llm, projs, feats):
    """First-token accuracy on the validation QA (logged only; never used to select)."""
    d = c.data()
    val = [i for i, q in enumerate(d["qas"]) if q[5] == "val"][:400]
    if not val:
        return
    llm.eval()
    sc = SeqCache(c)
    ok = 0
    for i in range(0, len(val), 64):
        sel = val[i:i + 64]
        imgs = torch.tensor([d["qas"][j][0] for j in sel])
        vis = visual(mode, projs, feats["clip"][imgs].float(), feats["question"][sel].float())
        for j, v in zip(sel, vis):
            p, a = sc.get(d["qas"][j][1], d["qas"][j][2])
            ids = torch.tensor([expand_image(p, c.image_id, v.shape[0])])
            logits, _ = llm(splice(llm.embed(ids), ids, v[None], c.image_id))
            ok += int(int(logits[0, -1].argmax()) == a[0])
    log(f"val[{mode}] first-token accuracy {ok / len(val):.3f} (n={len(val)})")


# ------------------------------------------------------------------ main
STAGE_FNS = {"data": stage_data, "llm": stage_llm, "clip": stage_clip, "vae": stage_vae, "unet": stage_unet,
             "features": stage_features, "align": stage_align, "tune": stage_tune, "pairdata": stage_pairdata, "pairs": stage_pairs,
             "export": stage_export, "eval": stage_eval, "report": stage_report}
assert list(STAGE_FNS) == STAGES


PER_MODE = ("tune", "pairs")  # stages that write one checkpoint per mode


def stage_done(c: Ctx, name: str) -> bool:
    """The stage's marker, and for the per-mode stages every mode's checkpoint too: a worker that wrote the
    marker before the others finished (before this check existed) must not make a resumed run skip them."""
    if not os.path.exists(c.path(f"done-{name}")):
        return False
    return name not in PER_MODE or all(os.path.exists(c.path(f"{name}-{m}.pt")) for m in MODES)


def run_stage(c: Ctx, name: str, force: bool):
    marker = c.path(f"done-{name}")
    if stage_done(c, name) and not force:
        log(f"stage {name}: done earlier, skipped")
        return
    if name in ("pairdata", "pairs") and not c.cfg.get("pair_steps"):
        log(f"stage {name}: not in recipe {c.recipe} (pair_steps 0), skipped")
        return
    if force and name in PER_MODE:
        only = os.environ.get("MW_MODES")  # with MW_MODES, --force retrains only those modes
        for m in (only.split(",") if only else MODES):
            if os.path.exists(c.path(f"{name}-{m}.pt")):
                os.remove(c.path(f"{name}-{m}.pt"))
    log(f"stage {name}: start")
    t0 = time.time()
    partial = name in PER_MODE and os.environ.get("MW_MODES")  # a worker, or a run limited to some modes
    if name in PER_MODE and c.jobs > 1 and not partial:
        stage_tune_parallel(c, c.jobs, c.child_argv, name)
    else:
        STAGE_FNS[name](c)
    if partial:
        log(f"stage {name}: {os.environ['MW_MODES']} done in {time.time() - t0:.0f}s (the stage is done when every mode is)")
        return
    dt = time.time() - t0
    c.times[name] = round(dt, 1)
    c.save_json("times.json", c.times)
    open(marker, "w").write(f"{dt:.1f}\n")
    log(f"stage {name}: {dt:.0f}s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a few steps of every stage (smoke test)")
    ap.add_argument("--stage", action="append", choices=STAGES, help="run only these stages (repeatable)")
    ap.add_argument("--from", dest="from_stage", choices=STAGES, help="run this stage and all later ones")
    ap.add_argument("--force", action="store_true", help="rerun the selected stages even if done")
    ap.add_argument("--pack", default=None, help="output pack folder (default models/mini-world; "
                                                 "--quick: training/.work/quick/pack)")
    ap.add_argument("--work", default=None, help="checkpoint folder (default training/.work/<full|quick|RECIPE>)")
    ap.add_argument("--recipe", default=SHIPPED_RECIPE, choices=sorted(RECIPES),
                    help=f"sizes and steps (default {SHIPPED_RECIPE}, the one models/mini-world was trained with)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine two threads ran 2.7x slower)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for stage 2 (default 2, one per core)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # only the shipped recipe writes models/mini-world by default; another one trains beside it until it
    # becomes the shipped one (SHIPPED_RECIPE in recipe.py) or is given --pack models/mini-world
    pack = args.pack or (os.path.join(WORK, "quick", "pack") if args.quick
                         else os.path.join(REPO, "models", "mini-world") if args.recipe == SHIPPED_RECIPE
                         else os.path.join(WORK, args.recipe, "pack"))
    c = Ctx(args.quick, os.path.abspath(pack), args.work and os.path.abspath(args.work), args.recipe)
    c.jobs = args.jobs
    c.child_argv = ["--pack", c.pack, "--work", c.work, "--threads", str(args.threads), "--recipe", args.recipe] + \
        (["--quick"] if args.quick else []) + (["--force"] if args.force else [])
    stages = args.stage or (STAGES[STAGES.index(args.from_stage):] if args.from_stage else STAGES)
    early = "report" in stages and not os.environ.get("MW_MODES")  # not in stage-2/3 workers
    try:
        for s in stages:
            if early and s != "report":
                report.start_bounds_early(c)
            run_stage(c, s, args.force)
    finally:
        report.stop_background()  # only still-running ones: report waited for them
    log("finished", json.dumps(c.times))


if __name__ == "__main__":
    main()
