"""Stage 3 of the mini-world recipe: a pair curriculum after stage 2.

Why: after stage 2 (v2.2) every mode answers single questions well above the blind floor, yet both images of
an MMVP-style pair are right in at most 29 % of the test pairs. In stage 2's batches a pair item is rare (800 of
24,792 questions, about one row in 40) and the two images of a pair never meet, so nothing teaches a reader that
one small object changes the answer. This stage continues each mode from its stage-2 checkpoint with batches in
which both images of a pair sit side by side (same question, two answers), mixed with ordinary questions,
detailed descriptions and captions so the rest is not forgotten. The pairs are fresh scenes of the
`train-pairs` split beyond the ones stage `data` used (never val or test); the encoders are not retrained.

  stage `pairdata`  more train pairs and a validation probe of pairs: CLIP tokens, UNet tap (unconditional and
                    question-guided s = 4) -> pairs.npz / pairs.json
  stage `pairs`     per mode: tune-<mode>.pt -> pairs-<mode>.pt (the checkpoint export and eval read)

Experiment entry point (validation only; writes nothing the pack reads):
  python -m twinlens_train.mini_world.pairs --work .work/full --modes diffusion --steps 2000 --out .work/pairs-exp
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch

from twinlens_train import world
from twinlens_train.mini_world.recipe import (DESCRIBE, DETAIL, MODES, PROJ_KEYS, RECIPES, SEED, SHIPPED_RECIPE, Ctx, SeqCache, Standardize,
                                              expand_image, load_features, log, lr_at, new_llm, optimise, reader_autocast, seed_all, seed_shift,
                                              splice, visual)
from twinlens_train.mw_models import GUIDANCE, build_projectors, clip_penultimate


# ------------------------------------------------------------------ data
def stage_pairdata(c: Ctx):
    """Pairs n_train_pairs .. n_train_pairs + pair_extra of `train-pairs` (the first n_train_pairs are stage
    data's, so these are new scenes) and the first pair_val of `val-pairs` (a probe for the validation log)."""
    cfg = c.cfg
    t0 = time.time()
    train = world.build_pairs("train-pairs", cfg["n_train_pairs"] + cfg["pair_extra"])[cfg["n_train_pairs"]:]
    val = world.build_pairs("val-pairs", cfg["pair_val"])
    images, meta = [], {"items": [], "captions": [], "dense": []}
    for tag, pairs in (("train", train), ("val", val)):
        for k, p in enumerate(pairs):
            for side in ("a", "b"):
                meta["items"].append({"img": len(images), "pair": f"{tag}-{k}", "side": side, "split": tag,
                                      "question": p["question"], "answer": p[f"answer_{side}"],
                                      "category": p["category"]})
                images.append(p[f"image_{side}"])
                meta["captions"].append(p[f"caption_{side}"])
                meta["dense"].append(world.dense_caption(p[side]))
    imgs = np.stack(images)
    fx = c.extractor()
    clipf = clip_penultimate(c.vision(), imgs)
    x_t = fx.noisy(fx.latents(imgs, bs=64))
    fu = fx.tap(x_t, [""] * len(imgs))
    fq = fx.tap(x_t, [it["question"] for it in meta["items"]])  # one question per image: rows line up
    gq = fu + np.float32(GUIDANCE) * (fq - fu)
    np.savez(c.path("pairs.npz"), clip=clipf.astype(np.float16), uncond=fu.astype(np.float16),
             question=gq.astype(np.float16))
    with open(c.path("pairs.json"), "w") as f:
        json.dump(meta, f)
    log(f"pairdata: {len(train)} train pairs, {len(val)} val pairs, {len(imgs)} images in {time.time() - t0:.0f}s")


def load_pairs(c: Ctx):
    z = np.load(c.path("pairs.npz"))
    return {k: torch.from_numpy(z[k]) for k in z.files}, json.load(open(c.path("pairs.json")))


# ------------------------------------------------------------------ checkpoints
def unfolded(proj, mu, sd) -> Standardize:
    """A folded MLP projector (what stage 2 saves: reads raw features) back in its training form,
    Standardize(proj) with the same function: W = W' * sd, b = b' + W' mu."""
    with torch.no_grad():
        w = proj.linear_1.weight.clone()
        proj.linear_1.bias.add_(w @ mu)
        proj.linear_1.weight.mul_(sd[None, :])
    return Standardize(proj, mu, sd)


def load_mode(c: Ctx, mode: str, stats, ck_name: str):
    ck = torch.load(c.path(ck_name))
    llm = new_llm(c)
    llm.load_state_dict(ck["llm"])
    projs = build_projectors(c.mc["vision"].hidden_size, c.diffusion_dim(), c.mc["llm"].hidden_size)
    for k in PROJ_KEYS[mode]:
        projs[k].load_state_dict(ck["projectors"][k])
        if k in stats:
            projs[k] = unfolded(projs[k], *stats[k])
    return llm, projs


# ------------------------------------------------------------------ training
def train_mode(c: Ctx, mode: str, steps: int, lr: float, k: int):
    d = c.data()
    feats = load_features(c)
    pf, pm = load_pairs(c)
    al = torch.load(c.path("align.pt"))
    llm, projs = load_mode(c, mode, al["stats"], f"tune-{mode}.pt")
    llm.model.embed_tokens.weight.requires_grad_(False)
    params = [p for kk in PROJ_KEYS[mode] for p in projs[kk].parameters()] + \
             [p for p in llm.parameters() if p.requires_grad]
    seed_all(SEED + 60 + k + seed_shift())
    g = torch.Generator().manual_seed(SEED + 60 + k + seed_shift())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sc = SeqCache(c)
    cfg = c.cfg
    train_q = torch.tensor([i for i, q in enumerate(d["qas"]) if q[5] == "train"])
    img_of = torch.tensor([q[0] for q in d["qas"]])
    lo, hi = d["train_images"]
    # pair items: rows 2j and 2j+1 are the two images of train pair j
    tr_items = [it for it in pm["items"] if it["split"] == "train"]
    n_pairs = len(tr_items) // 2
    dropout = 0.0 if mode in ("leaky", "clip") else 0.3
    t0 = time.time()
    for step in range(steps):
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, steps, lr)
        pj = torch.randperm(n_pairs, generator=g)[:cfg["pair_bs"]]
        prow = torch.stack([2 * pj, 2 * pj + 1], 1).flatten()
        pimg = torch.tensor([tr_items[i]["img"] for i in prow.tolist()])
        clip_rows = [pf["clip"][pimg].float()]
        pdiff = pf["question"][pimg].float()
        if dropout > 0:
            # one draw per pair: both images read the same kind of features, so only the image differs
            drop = (torch.rand(len(pj), generator=g) < dropout).repeat_interleave(2)
            pdiff[drop] = pf["uncond"][pimg[drop]].float()
        diff_rows = [pdiff]
        seqs = [sc.get(tr_items[i]["question"], tr_items[i]["answer"]) for i in prow.tolist()]
        # ordinary questions, detailed descriptions and captions, as in stage 2, so the rest is kept
        sel = train_q[torch.randperm(len(train_q), generator=g)[:cfg["pair_qa_bs"]]]
        imgs = img_of[sel]
        qd = feats["question"][sel].float()
        if dropout > 0:
            drop = torch.rand(len(sel), generator=g) < dropout
            qd[drop] = feats["uncond"][imgs[drop]].float()
        seqs += [sc.get(d["qas"][i][1], d["qas"][i][2]) for i in sel.tolist()]
        cap = torch.randperm(hi - lo, generator=g)[:cfg["pair_cap_bs"]] + lo
        den = torch.randperm(hi - lo, generator=g)[:cfg["pair_dense_bs"]] + lo
        cap_src = feats["caption"] if mode == "leaky" else feats["uncond"]
        clip_rows += [feats["clip"][imgs].float(), feats["clip"][cap].float(), feats["clip"][den].float()]
        diff_rows += [qd, cap_src[cap].float(), feats["uncond"][den].float()]
        seqs += [sc.get(DESCRIBE, d["captions"][i]) for i in cap.tolist()]
        seqs += [sc.get(DETAIL, d["dense"][i]) for i in den.tolist()]
        loss = optimise(llm, seqs, lambda: visual(mode, projs, torch.cat(clip_rows), torch.cat(diff_rows)), opt, params,
                        reader_autocast(c))
        if step % 100 == 0 or step == steps - 1:
            log(f"pairs[{mode}] step {step}/{steps} loss {loss:.3f} ({time.time() - t0:.0f}s)")
    return llm, projs, time.time() - t0


def save_mode(c: Ctx, mode: str, llm, projs, steps: int, secs: float, path: str):
    out = {k: (projs[k].folded() if isinstance(projs[k], Standardize) else projs[k]).state_dict()
           for k in PROJ_KEYS[mode]}
    torch.save({"llm": llm.state_dict(), "projectors": out, "steps": steps, "seconds": round(secs, 1)}, path)


# ------------------------------------------------------------------ validation (logged, never used by the recipe)
@torch.no_grad()
def val_scores(c: Ctx, mode: str, llm, projs) -> dict:
    """First-token accuracy on the validation probe pairs (both images right) and on 400 validation questions."""
    d = c.data()
    feats = load_features(c)
    pf, pm = load_pairs(c)
    llm.eval()
    for p in projs.values():
        p.eval()
    sc = SeqCache(c)

    def first_tokens(rows):  # rows: [(clip [N,D], diff [N,D], question, answer)]
        out = []
        for i in range(0, len(rows), 64):
            chunk = rows[i:i + 64]
            vis = visual(mode, projs, torch.stack([r[0] for r in chunk]), torch.stack([r[1] for r in chunk]))
            for (_, _, q, a), v in zip(chunk, vis):
                p, ans = sc.get(q, a)
                ids = torch.tensor([expand_image(p, c.image_id, v.shape[0])])
                logits, _ = llm(splice(llm.embed(ids), ids, v[None], c.image_id))
                out.append(int(logits[0, -1].argmax()) == ans[0])
        return out

    vi = [it for it in pm["items"] if it["split"] == "val"]
    ok = first_tokens([(pf["clip"][it["img"]].float(), pf["question"][it["img"]].float(), it["question"],
                        it["answer"]) for it in vi])
    by_pair, by_cat = defaultdict(list), defaultdict(list)
    for it, o in zip(vi, ok):
        by_pair[it["pair"]].append(o)
    for it in vi[::2]:
        by_cat[it["category"]].append(all(by_pair[it["pair"]]))
    val_q = [i for i, q in enumerate(d["qas"]) if q[5] == "val"][:400]
    okq = first_tokens([(feats["clip"][d["qas"][i][0]].float(), feats["question"][i].float(), d["qas"][i][1],
                         d["qas"][i][2]) for i in val_q])
    llm.train()
    for p in projs.values():
        p.train()
    return {"pair_acc": round(100 * np.mean([all(v) for v in by_pair.values()]), 1), "pairs": len(by_pair),
            "pair_items": round(100 * np.mean(ok), 1), "val_qa": round(100 * np.mean(okq), 1), "n_qa": len(okq),
            "pair_by_category": {k: round(100 * np.mean(v), 1) for k, v in sorted(by_cat.items())}}


# ------------------------------------------------------------------ stage
def stage_pairs(c: Ctx, modes: List[str] = None):
    only = os.environ.get("MW_MODES")
    for k, mode in enumerate(MODES):
        if (modes and mode not in modes) or (only and mode not in only.split(",")):
            continue
        ck = c.path(f"pairs-{mode}.pt")
        if os.path.exists(ck):
            log(f"pairs[{mode}] exists, skipped")
            continue
        steps = int(os.environ.get("MW_PAIR_STEPS", c.cfg["pair_steps"]))
        llm, projs, secs = train_mode(c, mode, steps, c.cfg["pair_lr"], k)
        save_mode(c, mode, llm, projs, steps, secs, ck)
        if not c.quick:
            log(f"val[{mode}] after stage 3: {json.dumps(val_scores(c, mode, llm, projs))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--modes", default="diffusion")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--set", action="append", default=[], help="override a recipe size, e.g. pair_bs=8")
    ap.add_argument("--out", required=True, help="a JSON file the validation scores are appended to")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--recipe", default=SHIPPED_RECIPE, choices=sorted(RECIPES),
                    help="the recipe the work folder was trained with (default the shipped one)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    c = Ctx(False, os.path.join(args.work, "pack"), os.path.abspath(args.work), args.recipe)
    for kv in args.set:
        key, val = kv.split("=")
        kind = type(c.cfg[key])
        c.cfg = dict(c.cfg, **{key: val.lower() in ("1", "true", "yes") if kind is bool else kind(val)})
    if not os.path.exists(c.path("pairs.npz")):
        stage_pairdata(c)
    al = torch.load(c.path("align.pt"))
    rep = json.load(open(args.out)) if os.path.exists(args.out) else {}
    for mode in args.modes.split(","):
        k = MODES.index(mode)
        before = val_scores(c, mode, *load_mode(c, mode, al["stats"], f"tune-{mode}.pt"))
        log(f"val[{mode}] stage 2: {json.dumps(before)}")
        llm, projs, secs = train_mode(c, mode, args.steps, args.lr, k)
        after = val_scores(c, mode, llm, projs)
        log(f"val[{mode}] stage 3 ({args.steps} steps, lr {args.lr}): {json.dumps(after)}")
        rep[f"{mode} steps={args.steps} lr={args.lr} {' '.join(args.set)}".strip()] = {
            "before": before, "after": after, "seconds": round(secs)}
        json.dump(rep, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
