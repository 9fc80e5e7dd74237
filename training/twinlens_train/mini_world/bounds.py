"""Bounds for the mini-world answer modes (issue: the reader must not be the bottleneck).

    python -m twinlens_train.mini_world.bounds --work .work/full --probes --readers blind,oracle,clip   (from training/)

Readers: the same projector (mlp2x_gelu) + stage-0 LLM as the answer modes, trained with the
stage-2 recipe of train.py (same batch mix of questions, captions and detailed
descriptions, same optimiser and schedule; no stage 1), on different visual tokens:
  blind   64 zero tokens (the floor: what the LLM learns from the question alone)
  oracle  one token per object with its true shape, colour, size, x, y (the ceiling for this reader)
  clip    the CLIP penultimate tokens (the clip mode, in this same harness)
  diffusion  the UNet tap, question-guided s=4 with 30 % prompt dropout (the diffusion mode)
Scored on the VALIDATION questions (accuracy of the first answer token: every answer is one word =
one token), overall, per category and per target size, with 95 % Wilson intervals; plus the majority
answer per category (a blind guess without training). The blind and oracle readers, which need no
encoder, are also scored on the test split and pairs ("heldout"): the issue states the ceiling there.
Nothing is selected on those numbers.

Probes (--probes): linear probes of CLIP tokens, raw 8x8 pixel patches and the UNet tap at each
t in --t-list (unconditional), fit on training images, scored on validation images.
Writes a JSON report (--out, default <work>/bounds.json) and prints a table.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from twinlens_train import oracle, pipeline, probes, world
from twinlens_train.mini_world import recipe
from twinlens_train.models.projectors import MlpProjector, ProjectorConfig

READERS = ["blind", "oracle", "clip", "diffusion"]


def wilson(k: int, n: int, z: float = 1.96):
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def blind_shape(c: recipe.Ctx):
    """(tokens, channels) of the blind reader's zero tokens: the CLIP grid (penultimate layer, CLS dropped), known
    from the config, so the blind and oracle readers need only stages data and llm (train.py starts the blind one in
    the background right after stage llm, while the encoders train; report.BOUNDS_PARTS)."""
    v = c.mc["vision"]
    return (v.image_size // v.patch_size) ** 2, v.hidden_size


class Sources:
    """Visual tokens per reader: fn(image indices, qa indices or None) -> [b, N, D] float32. feats (the features
    stage's output) may be None for the blind and oracle readers."""

    def __init__(self, c: recipe.Ctx, feats: Optional[Dict[str, torch.Tensor]]):
        self.c, self.feats = c, feats
        self.scene_tok = torch.from_numpy(oracle.scene_tokens(oracle.data_scenes(c.cfg)))
        if len(self.scene_tok) != len(c.data()["images"]):
            raise SystemExit(f"oracle: {len(self.scene_tok)} scenes regenerated but data.npz has "
                             f"{len(c.data()['images'])} images: the world code changed since stage data")
        self.g = None
        if feats is not None and tuple(feats["clip"].shape[1:]) != blind_shape(c):
            raise SystemExit(f"bounds: CLIP features are {tuple(feats['clip'].shape[1:])}, the config says "
                             f"{blind_shape(c)}: rerun stage features")

    def dim(self, reader: str) -> int:
        if reader == "blind":
            return blind_shape(c=self.c)[1]
        if reader == "oracle":
            return oracle.TOKEN_DIM
        return {"clip": self.feats["clip"].shape[-1], "diffusion": self.feats["uncond"].shape[-1]}[reader]

    def fn(self, reader: str, dropout_gen: torch.Generator) -> Callable:
        f = self.feats

        def get(imgs: torch.Tensor, qas):
            if reader == "blind":
                return torch.zeros(len(imgs), *blind_shape(self.c))
            if reader == "oracle":
                return self.scene_tok[imgs]
            if reader == "clip":
                return f["clip"][imgs].float()
            # diffusion: question-guided rows where a question is asked, 30 % dropped to unconditional;
            # captions / descriptions (qas None) read the unconditional features, as in stage 2
            out = f["uncond"][imgs].float()
            if qas is not None:
                q = f["question"][qas].float()
                keep = torch.rand(len(qas), generator=dropout_gen) >= 0.3
                out[keep] = q[keep]
            return out
        return get


def train_reader(c: recipe.Ctx, reader: str, src: Sources, steps: int, seed: int, lr: float = recipe.TUNE_LR):
    d = c.data()
    sc = recipe.SeqCache(c)
    H = c.mc["llm"].hidden_size
    recipe.seed_all(seed)
    proj = MlpProjector(ProjectorConfig(src.dim(reader), H))
    if reader in ("clip", "diffusion"):
        key = "clip" if reader == "clip" else "uncond"
        x = src.feats[key][:2000].float().reshape(-1, src.feats[key].shape[-1])
        proj = recipe.Standardize(proj, x.mean(0), x.std(0).clamp_min(1e-3))
    llm = recipe.new_llm(c)
    llm.model.embed_tokens.weight.requires_grad_(False)
    params = list(proj.parameters()) + [p for p in llm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    get = src.fn(reader, torch.Generator().manual_seed(seed + 1))
    train_q = torch.tensor([i for i, q in enumerate(d["qas"]) if q[5] == "train"])
    img_of = torch.tensor([q[0] for q in d["qas"]])
    lo, hi = d["train_images"]
    bs = c.cfg["tune_bs"]
    t0 = time.time()
    for step in range(steps):
        sel = train_q[torch.randperm(len(train_q), generator=g)[:bs]]
        for pg in opt.param_groups:
            pg["lr"] = recipe.lr_at(step, steps, lr)
        cap = torch.randperm(hi - lo, generator=g)[:max(1, bs // 6)] + lo
        den = torch.randperm(hi - lo, generator=g)[:c.cfg["dense_bs"]] + lo
        vis = torch.cat([get(img_of[sel], sel), get(cap, None), get(den, None)])
        seqs = [sc.get(d["qas"][i][1], d["qas"][i][2]) for i in sel.tolist()]
        seqs += [sc.get(recipe.DESCRIBE, d["captions"][i]) for i in cap.tolist()]
        seqs += [sc.get(recipe.DETAIL, d["dense"][i]) for i in den.tolist()]
        with recipe.reader_autocast(c):  # v4: bfloat16 like the modes' readers
            loss = recipe.lm_loss(llm, seqs, proj(vis))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            recipe.log(f"bounds[{reader}] step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
    return llm.eval(), proj.eval(), time.time() - t0


@torch.no_grad()
def score(c: recipe.Ctx, reader: str, llm, proj, src: Sources) -> dict:
    """First-token accuracy on every validation question (guided features without dropout)."""
    d = c.data()
    sc = recipe.SeqCache(c)
    val = [i for i, q in enumerate(d["qas"]) if q[5] == "val"]
    get = src.fn(reader, torch.Generator().manual_seed(0))
    rows = []
    for i in range(0, len(val), 64):
        sel = torch.tensor(val[i:i + 64])
        imgs = torch.tensor([d["qas"][j][0] for j in sel.tolist()])
        if reader == "diffusion":
            vis = proj(src.feats["question"][sel].float())
        else:
            vis = proj(get(imgs, None))
        for j, v in zip(sel.tolist(), vis):
            p, a = sc.get(d["qas"][j][1], d["qas"][j][2])
            ids = torch.tensor([recipe.expand_image(p, c.image_id, v.shape[0])])
            logits, _ = llm(recipe.splice(llm.embed(ids), ids, v[None], c.image_id))
            rows.append((j, int(int(logits[0, -1].argmax()) == a[0])))
    return summarize(d, rows)


def _acc(oks: List[int]) -> dict:
    k, n = sum(oks), len(oks)
    lo, hi = wilson(k, n)
    return {"acc": round(100 * k / max(1, n), 1), "n": n, "ci95": [round(100 * lo, 1), round(100 * hi, 1)]}


def summarize(d, rows) -> dict:
    """rows: (qa index into data.json, ok)."""
    return summarize_tagged([(d["qas"][j][3], d["qas"][j][4], ok) for j, ok in rows])


def summarize_tagged(rows) -> dict:
    """rows: (category, target size, ok)."""
    out = {"all": _acc([ok for *_, ok in rows])}
    for cat in world.CATEGORIES:
        out[cat] = _acc([ok for c, _, ok in rows if c == cat])
    for tgt in ("small", "large"):
        out["target " + tgt] = _acc([ok for _, t, ok in rows if t == tgt])
    return out


def heldout_items(c: recipe.Ctx) -> List[dict]:
    """The test split and test pairs, regenerated from the world's seeds exactly as stage `data` wrote the pack's
    suites (checked against <pack>/suites when it exists): {scene, question, answer, category, target, pair}."""
    cfg = c.cfg
    out = [{"scene": s["scene"], "question": s["qas"][0].question, "answer": s["qas"][0].answer,
            "category": s["qas"][0].category, "target": s["qas"][0].target, "pair": None}
           for s in world.build_split("test", cfg["n_test"], 1)]
    for i, p in enumerate(world.build_pairs("test-pairs", cfg["n_test_pairs"])):
        out += [{"scene": p[side], "question": p["question"], "answer": p[f"answer_{side}"], "category": p["category"],
                 "target": "small", "pair": i} for side in ("a", "b")]
    suite = os.path.join(c.pack, "suites", "mini-world-all.jsonl")
    if os.path.exists(suite):
        rows = [json.loads(x) for x in open(suite)]
        if [(r["question"], r["answer"]) for r in rows] != [(x["question"], x["answer"]) for x in out]:
            raise SystemExit(f"heldout: the regenerated test items differ from {suite}: the world code changed "
                             "since stage data; rerun stage data")
    return out


@torch.no_grad()
def score_heldout(c: recipe.Ctx, reader: str, llm, proj, src: Sources) -> dict:
    """The blind and oracle readers need no encoder, so they are also scored on the test split and the pairs:
    the ceiling the issue states is on the test split. Nothing here feeds back into training or selection."""
    if reader not in ("blind", "oracle"):
        return {}
    sc = recipe.SeqCache(c)
    its = heldout_items(c)
    if reader == "oracle":
        tok = torch.from_numpy(oracle.scene_tokens([x["scene"] for x in its]))
    else:
        tok = torch.zeros(len(its), *blind_shape(c))
    vis_all = proj(tok)
    oks = []
    for x, v in zip(its, vis_all):
        p, a = sc.get(x["question"], x["answer"])
        ids = torch.tensor([recipe.expand_image(p, c.image_id, v.shape[0])])
        logits, _ = llm(recipe.splice(llm.embed(ids), ids, v[None], c.image_id))
        oks.append(int(int(logits[0, -1].argmax()) == a[0]))
    test = [(x["category"], x["target"], ok) for x, ok in zip(its, oks) if x["pair"] is None]
    by_pair: Dict[int, List[int]] = {}
    for x, ok in zip(its, oks):
        if x["pair"] is not None:
            by_pair.setdefault(x["pair"], []).append(ok)
    return {"test": summarize_tagged(test),
            "pairs": _acc([int(all(v)) for v in by_pair.values()]),
            "pair items": _acc([ok for x, ok in zip(its, oks) if x["pair"] is not None])}


def majority_floor(c: recipe.Ctx) -> dict:
    """The most frequent training answer of each category, no image, no training of any model."""
    d = c.data()
    best = {}
    for cat in world.CATEGORIES:
        answers = [q[2] for q in d["qas"] if q[5] == "train" and q[3] == cat]
        best[cat] = max(set(answers), key=answers.count) if answers else ""
    rows = [(i, int(q[2] == best[q[3]])) for i, q in enumerate(d["qas"]) if q[5] == "val"]
    return summarize(d, rows)


def run_probes(c: recipe.Ctx, feats, t_list: List[int], limit: int) -> dict:
    d = c.data()
    scenes = oracle.data_scenes(c.cfg)
    lo, hi = d["train_images"]
    vlo, vhi = d["val_images"]
    train = np.arange(lo, min(hi, lo + limit))
    val = np.arange(vlo, vhi)
    both = np.concatenate([train, val])
    sub_scenes = [scenes[i] for i in both]
    tr, va = np.arange(len(train)), np.arange(len(train), len(both))
    grid = int(round(math.sqrt(feats["clip"].shape[1])))
    out = {"chance": probes.chance(sub_scenes, tr, va, grid), "n_train_images": len(train), "n_val_images": len(val)}
    t0 = time.time()
    out["clip"] = probes.probe_tokens(feats["clip"][both].float().numpy(), sub_scenes, tr, va, grid)
    out["pixels"] = probes.probe_tokens(probes.pixel_patches(d["images"][both], grid), sub_scenes, tr, va, grid)
    fx = c.extractor()
    lat = c.latents(fx)[both]
    for t in t_list:
        fx.t = t
        f = fx.tap(fx.noisy(lat), [""] * len(both))
        out[f"unet t={t}"] = probes.probe_tokens(f, sub_scenes, tr, va, grid)
    recipe.log(f"probes: {time.time() - t0:.0f}s")
    return out


def run_small_probes(c: recipe.Ctx, feats, n_train: int = 3000, n_val: int = 1000) -> dict:
    """Small objects only (what the pairs change): colour and shape from the token under their centre, for CLIP,
    raw pixels, the VAE latents (4x4 latent cells x 4 channels per token) and UNet taps at t = 50 (the 8x8
    cross-attention query and the 16x16 resnet output folded 2x2 into 8x8 tokens). Probe training images
    0..n_train-1, scored on the next n_val (training images: the encoders saw them all alike)."""
    d = c.data()
    scenes = oracle.data_scenes(c.cfg)
    both = np.arange(n_train + n_val)
    tr, va = both[:n_train], both[n_train:]
    grid = 8
    out = {"n_train_images": n_train, "n_val_images": n_val}
    t0 = time.time()
    out["clip"] = probes.probe_small_objects(feats["clip"][both].float().numpy(), scenes, tr, va, grid)
    out["pixels"] = probes.probe_small_objects(probes.pixel_patches(d["images"][both], grid), scenes, tr, va, grid)
    fx = c.extractor()
    lat = c.latents(fx)[both]
    n, ch, h, w = lat.shape
    k = h // grid
    cells = lat.reshape(n, ch, grid, k, grid, k).transpose(0, 2, 4, 1, 3, 5).reshape(n, grid * grid, ch * k * k)
    out["vae latents"] = probes.probe_small_objects(cells, scenes, tr, va, grid)
    x_t = fx.noisy(lat)
    for alias, fold in (("U-L1-R1-B0-Cross-Q", 1), ("U-L2-R2-Res-Out", 2)):
        fx.tap_path, fx.fold = pipeline.SD_TAPS[alias], fold
        out[f"unet {alias}" + (f" fold {fold}" if fold > 1 else "")] = \
            probes.probe_small_objects(fx.tap(x_t, [""] * len(both)), scenes, tr, va, grid)
    recipe.log(f"small-object probes: {time.time() - t0:.0f}s")
    return out


def print_tables(rep: dict):
    if "readers" in rep:
        cols = ["all"] + world.CATEGORIES + ["target small", "target large"]
        print("| reader | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for name, r in rep["readers"].items():
            print(f"| {name} | " + " | ".join(f"{r[k]['acc']:.1f}" for k in cols) + " |")
    if "small_probes" in rep:
        p = rep["small_probes"]
        print("| features (small objects) | " + " | ".join(probes.SMALL_TARGETS) + " |")
        print("|---" * (len(probes.SMALL_TARGETS) + 1) + "|")
        for name, r in p.items():
            if isinstance(r, dict):
                print(f"| {name} | " + " | ".join(f"{100 * r[k]:.1f}" for k in probes.SMALL_TARGETS) + " |")
    if "probes" in rep:
        p = rep["probes"]
        cols = probes.OBJECT_TARGETS + probes.IMAGE_TARGETS
        print("| features | " + " | ".join(cols) + " |")
        print("|---" * (len(cols) + 1) + "|")
        for name, r in p.items():
            if isinstance(r, dict):
                print(f"| {name} | " + " | ".join(f"{100 * r[k]:.1f}" for k in cols) + " |")


def variant_ctx(c: recipe.Ctx, width: int, layers: int, image_last: bool) -> recipe.Ctx:
    """A work folder for a reader with another LLM shape or prompt order: same data and features
    (linked), its own stage-0 LLM pre-trained with the recipe's stage `llm` (so every reader starts
    from the same recipe)."""
    base = c.mc["llm"]
    if width == base.hidden_size and layers == base.num_hidden_layers and image_last == bool(c.cfg.get("image_last")):
        return c
    sub = c.path(f"reader-w{width}-l{layers}" + ("-imagelast" if image_last else ""))
    os.makedirs(sub, exist_ok=True)
    for f in ("data.npz", "data.json", "features.npz"):
        if not os.path.exists(os.path.join(sub, f)):
            os.symlink(c.path(f), os.path.join(sub, f))
    c2 = recipe.Ctx(c.quick, c.pack, sub, c.recipe)
    c2.cfg = dict(c2.cfg, image_last=image_last)
    heads = max(2, width // 32)
    c2.mc["llm"] = dataclasses.replace(base, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers,
                                       num_attention_heads=heads, num_key_value_heads=2 if heads % 2 == 0 else 1)
    if not os.path.exists(c2.path("llm0.pt")):
        recipe.stage_llm(c2)
    return c2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="a mini_world.train work folder with stages data..llm done")
    ap.add_argument("--quick", action="store_true", help="the work folder was made with --quick")
    ap.add_argument("--readers", default="", help=f"comma list of {READERS}")
    ap.add_argument("--steps", type=int, default=None, help="reader steps (default: the recipe's tune_steps)")
    ap.add_argument("--probes", action="store_true")
    ap.add_argument("--small-probes", action="store_true", help="small-object colour / shape probes per encoder")
    ap.add_argument("--t-list", default="10,50,100,250,500")
    ap.add_argument("--probe-images", type=int, default=3000, help="training images for the probes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--recipe", default=recipe.SHIPPED_RECIPE, choices=sorted(recipe.RECIPES),
                    help="the recipe the work folder was trained with (its tap, fold and steps; default the shipped one)")
    ap.add_argument("--llm-width", type=int, default=None, help="reader LLM width (default: the recipe's)")
    ap.add_argument("--llm-layers", type=int, default=None, help="reader LLM layers (default: the recipe's)")
    ap.add_argument("--lr", type=float, default=recipe.TUNE_LR, help="reader learning rate (default: the recipe's)")
    ap.add_argument("--image-last", action=argparse.BooleanOptionalAction, default=None,
                    help="put the image after (--image-last) or before (--no-image-last) the question; "
                         "default: as the recipe (FULL/QUICK image_last), so the bounds read the modes' prompt")
    ap.add_argument("--tag", default="", help="suffix for the reader names in the report (variants)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    c = recipe.Ctx(args.quick, os.path.join(args.work, "pack"), os.path.abspath(args.work), args.recipe)
    out_path = args.out or c.path("bounds.json")
    rep = json.load(open(out_path)) if os.path.exists(out_path) else {}
    readers = [r for r in args.readers.split(",") if r]
    # the blind and oracle readers need no encoder features (so they can run before stage features exists)
    needs_feats = args.probes or args.small_probes or any(r in ("clip", "diffusion") for r in readers)
    feats = recipe.load_features(c) if needs_feats else None
    rep["majority"] = majority_floor(c)
    steps = args.steps or c.cfg["tune_steps"]
    for r in readers:
        if r not in READERS:
            raise SystemExit(f"unknown reader '{r}' (choose from {', '.join(READERS)})")
    src = Sources(c, feats) if readers else None
    rc = variant_ctx(c, args.llm_width or c.mc["llm"].hidden_size, args.llm_layers or c.mc["llm"].num_hidden_layers,
                     bool(c.cfg.get("image_last")) if args.image_last is None else args.image_last)
    shape = f"width {rc.mc['llm'].hidden_size}, {rc.mc['llm'].num_hidden_layers} layers" + \
        (", image after the question" if rc.cfg.get("image_last") else "")
    for k, r in enumerate(readers):
        llm, proj, secs = train_reader(rc, r, src, steps, recipe.SEED + 40 + READERS.index(r), args.lr)
        res = score(rc, r, llm, proj, src)
        res.update(steps=steps, seconds=round(secs, 1), llm=shape, lr=args.lr)
        held = score_heldout(rc, r, llm, proj, src)
        if held:
            res["heldout"] = held
            recipe.log(f"bounds[{r}] test accuracy {held['test']['all']['acc']} % (n={held['test']['all']['n']}), "
                    f"pairs {held['pairs']['acc']} % (n={held['pairs']['n']})")
        rep.setdefault("readers", {})[r + args.tag] = res
        recipe.log(f"bounds[{r}] val accuracy {res['all']['acc']} % (n={res['all']['n']})")
        json.dump(rep, open(out_path, "w"), indent=1)
    if args.probes:
        rep["probes"] = run_probes(c, feats, [int(t) for t in args.t_list.split(",")], args.probe_images)
    if args.small_probes:
        n = min(args.probe_images, len(c.data()["images"]) * 3 // 4)
        rep["small_probes"] = run_small_probes(c, feats, n, min(1000, n // 3))
    rep.setdefault("readers", {})
    rep["readers"]["majority (no training)"] = rep["majority"]
    json.dump(rep, open(out_path, "w"), indent=1)
    print_tables(rep)


if __name__ == "__main__":
    main()
