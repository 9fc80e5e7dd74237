#!/usr/bin/env python3
"""PyTorch reference evaluation of the mini-world pack on its test suites.

    python -m twinlens_train.mini_world.eval_reference [--quick] [--limit N] [--modes clip,fused --out FILE]
                                                                                  (from training/)

Reads <pack>/suites/mini-world-{test,pairs}.jsonl, answers every item with every
mode exactly as the engine does (greedy, CLIP penultimate tokens, UNet tap at t=50,
mulberry32 seed 0, s=4, question as prompt), and writes
  <pack>/eval-python.json                     accuracies (per mode, category, target), pair accuracy,
                                              CLIP vs diffusion feature similarity within pairs
  training/.work/<run>/predictions-python.json  every answer (for the TS agreement check)
Uses the checkpoints in training/.work, not the ONNX files.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict

import numpy as np
import torch

from twinlens_train.images import load_png
from twinlens_train.mini_world.recipe import (MODES, PROJ_KEYS, RECIPES, SHIPPED_RECIPE, Ctx, expand_image, final_checkpoint, prompt_token_ids,
                                              splice, visual)
from twinlens_train.models import LlamaForCausalLM
from twinlens_train.mw_models import GUIDANCE, build_projectors, clip_penultimate
from twinlens_train.paths import REPO, WORK

SUITES = ["mini-world-test", "mini-world-pairs"]


def load_suite(pack: str, name: str):
    p = os.path.join(pack, "suites", f"{name}.jsonl")
    items = [json.loads(line) for line in open(p)]
    for it in items:
        it["suite"] = name
        it["image_path"] = os.path.join(os.path.dirname(p), it["image"])
    return items


def normalise(text: str) -> str:
    return text.strip().lower().rstrip(".?!")


@torch.no_grad()
def greedy(c, llm, vis: torch.Tensor, questions, max_new: int = 4):
    """Greedy answers for rows of visual tokens [n,N,H]; groups rows by prompt length (no padding)."""
    eos = c.ltok.token_to_id("</s>")
    out = [None] * len(questions)
    groups = defaultdict(list)
    prompts = [prompt_token_ids(c, q) for q in questions]
    for i, p in enumerate(prompts):
        groups[len(p)].append(i)
    N = vis.shape[1]
    for _, idx in groups.items():
        ids = torch.tensor([expand_image(prompts[i], c.image_id, N) for i in idx])
        emb = splice(llm.embed(ids), ids, vis[idx], c.image_id)
        gen = [[] for _ in idx]
        for _ in range(max_new):
            logits, _ = llm(emb)
            nxt = logits[:, -1].argmax(-1)
            for r, t in enumerate(nxt.tolist()):
                if not gen[r] or gen[r][-1] != eos:
                    gen[r].append(t)
            if all(g[-1] == eos for g in gen):
                break
            emb = torch.cat([emb, llm.embed(nxt[:, None])], dim=1)
        for r, i in enumerate(idx):
            out[i] = c.ltok.decode(gen[r], skip_special_tokens=True)
    return out


def cos(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def evaluate(c, write: bool = True, limit: int = 0, modes=None) -> dict:
    """Every mode (or `modes`) on both suites; write=True writes eval-python.json into the pack."""
    t0 = time.time()
    modes = list(modes or MODES)
    items = [it for s in SUITES for it in load_suite(c.pack, s)]
    if limit:
        items = items[:limit]
    imgs = np.stack([load_png(it["image_path"]) for it in items])
    qs = [it["question"] for it in items]
    fx = c.extractor()
    clipf = torch.from_numpy(clip_penultimate(c.vision(), imgs))
    x_t = fx.noisy(fx.latents(imgs))
    fu = fx.tap(x_t, [""] * len(items))
    fc = fx.tap(x_t, qs)
    guided = fu + np.float32(GUIDANCE) * (fc - fu)
    diff = torch.from_numpy(guided)
    H = c.mc["llm"].hidden_size
    preds = {}
    for mode in modes:
        ck = torch.load(c.path(final_checkpoint(c, mode)))
        llm = LlamaForCausalLM(c.mc["llm"])
        llm.load_state_dict(ck["llm"])
        llm.eval()
        projs = build_projectors(c.mc["vision"].hidden_size, diff.shape[-1], H)
        for k in PROJ_KEYS[mode]:
            projs[k].load_state_dict(ck["projectors"][k])
            projs[k].eval()
        with torch.no_grad():
            vis = visual(mode, projs, clipf, diff)
        preds[mode] = greedy(c, llm, vis, qs)
    res = {"modes": {}, "n_items": len(items), "suites": SUITES,
           "settings": {"t": 50, "guidance": GUIDANCE, "tap": c.cfg["tap"], "fold": c.cfg["fold"], "seed": 0, "prompt": "question",
                        "decoding": "greedy"},
           "source": "PyTorch checkpoints (twinlens_train.mini_world.eval_reference), not the ONNX engine"}
    for mode in modes:
        r = {"test": defaultdict(lambda: [0, 0]), "pairs_items": [0, 0]}
        by_pair = defaultdict(list)
        for it, p in zip(items, preds[mode]):
            ok = normalise(p) == it["answer"]
            if it["suite"] == "mini-world-test":
                for key in ("all", f"category:{it['category']}", f"target:{it['target']}"):
                    r["test"][key][0] += ok
                    r["test"][key][1] += 1
            else:
                r["pairs_items"][0] += ok
                r["pairs_items"][1] += 1
                by_pair[it["pair"]].append(ok)
        pairs_ok = sum(all(v) for v in by_pair.values())
        pair_cat = defaultdict(lambda: [0, 0])
        for it in items:
            if it["suite"] == "mini-world-pairs" and it["id"].endswith("a"):
                pair_cat[it["category"]][0] += all(by_pair[it["pair"]])
                pair_cat[it["category"]][1] += 1
        res["modes"][mode] = {
            "test_accuracy": {k: round(v[0] / v[1], 4) for k, v in sorted(r["test"].items())},
            "test_counts": {k: v[1] for k, v in sorted(r["test"].items())},
            "pair_item_accuracy": round(r["pairs_items"][0] / max(1, r["pairs_items"][1]), 4),
            "pair_accuracy": round(pairs_ok / max(1, len(by_pair)), 4),
            "pair_accuracy_by_category": {k: round(v[0] / v[1], 4) for k, v in sorted(pair_cat.items())},
            "n_pairs": len(by_pair),
        }
    # feature similarity within pairs (cosine of flattened token grids; lower = the encoder separates the pair more)
    sims = defaultdict(list)
    pos = {it["id"]: i for i, it in enumerate(items)}
    for it in items:
        if it["suite"] == "mini-world-pairs" and it["id"].endswith("a") and it["pair"] + "b" in pos:
            a, b = pos[it["id"]], pos[it["pair"] + "b"]
            sims["clip"].append(cos(clipf[a].numpy(), clipf[b].numpy()))
            sims["diffusion_guided"].append(cos(guided[a], guided[b]))
            sims["diffusion_uncond"].append(cos(fu[a], fu[b]))
    res["pair_feature_similarity"] = {k: {"mean_cosine": round(float(np.mean(v)), 4), "n": len(v)}
                                      for k, v in sims.items()}
    res["seconds"] = round(time.time() - t0, 1)
    if write:
        with open(os.path.join(c.pack, "eval-python.json"), "w") as f:
            json.dump(res, f, indent=2)
        with open(c.path("predictions-python.json"), "w") as f:
            json.dump([{"id": it["id"], "suite": it["suite"], "image": it["image_path"], "question": it["question"],
                        "answer": it["answer"], **{m: preds[m][i] for m in modes}} for i, it in enumerate(items)],
                      f, indent=1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pack", default=None)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--work", default=None)
    ap.add_argument("--recipe", default=SHIPPED_RECIPE, choices=sorted(RECIPES),
                    help="the recipe the work folder was trained with (default the shipped one)")
    ap.add_argument("--modes", default=None, help="comma-separated answer modes (default all), e.g. the ones a "
                                                  "partial run has trained")
    ap.add_argument("--out", default=None, help="write the results here instead of <pack>/eval-python.json (the "
                                                "pack then only supplies the suites)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1, as stage eval: the pack's numbers were computed on one)")
    args = ap.parse_args()
    modes = args.modes.split(",") if args.modes else None
    unknown = sorted(set(modes or []) - set(MODES))
    if unknown:
        ap.error(f"unknown mode(s) {', '.join(unknown)}; the modes are {', '.join(MODES)}")
    torch.set_num_threads(args.threads)
    pack = args.pack or (os.path.join(WORK, "quick", "pack") if args.quick
                         else os.path.join(REPO, "models", "mini-world"))
    res = evaluate(Ctx(args.quick, os.path.abspath(pack), args.work and os.path.abspath(args.work), args.recipe),
                   write=not args.out, limit=args.limit, modes=modes)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)
    print(json.dumps({m: {"all": v["test_accuracy"].get("all"), "pairs": v["pair_accuracy"]}
                      for m, v in res["modes"].items()}, indent=1))
    print(json.dumps(res["pair_feature_similarity"]))


if __name__ == "__main__":
    main()
