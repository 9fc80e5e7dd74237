"""What a mini-world reader step costs, and what recipe v4's bfloat16 autocast buys: one stage-2 training step
(projector + LLM forward, per-row loss, backward, clipping, AdamW: recipe.optimise, the code the stages run) at
the recipe's shapes, timed in this process for each variant; prints medians and ratios against float32 (v3).

    python -m twinlens_train.bench.reader_step [--reps 20] [--json]     (from training/, or PYTHONPATH=training)

Variants, each for a 64-token mode (clip / diffusion / leaky) and `fused` (128 visual tokens):
  float32            recipe v3 (the reference)
  answer logits      float32, logits computed only where the loss reads them (exact-math rewrite of lm_loss)
  bfloat16 autocast  recipe v4 (recipe.reader_autocast)
Inputs are random (features, token ids) with the recipe's batch: 24 one- or two-word answers, 4 captions
(~10 tokens), 12 detailed descriptions (~22 tokens), the image after a ~16-token prompt. One torch thread, as the
training runs. The first-step loss of each variant is printed beside the time: bfloat16 must stay close to
float32 (a few 1e-3), the answer-logits rewrite equal to it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from twinlens_train.mini_world import recipe
from twinlens_train.models.llm import build_attention_bias
from twinlens_train.models.projectors import MlpProjector, ProjectorConfig
from twinlens_train.mw_models import configs, llm_tok_json, text_tok_json


def answer_logits_loss(llm, seqs, vis):
    """recipe.lm_loss with the LM head applied only at the answer positions (same loss, up to float order)."""
    n_vis = vis.shape[1]
    rows, tgts = [], []
    for p, a in seqs:
        ids = recipe.expand_image(p, recipe.IMAGE_ID, n_vis) + a
        rows.append(ids)
        tgts.append([-100] * (len(ids) - len(a)) + a)
    L = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (L - len(r)) for r in rows])
    tgt = torch.tensor([t + [-100] * (L - len(t)) for t in tgts])
    x = recipe.splice(llm.embed(ids), ids, vis, recipe.IMAGE_ID)
    m, b = llm.model, ids.shape[0]
    cos, sin = m.rotary_emb(torch.arange(L)[None].expand(b, L))
    mask = build_attention_bias(torch.ones(b, L, dtype=torch.long), 0, L)
    for layer in m.layers:
        x, _ = layer(x, cos, sin, mask, None)
    t = tgt[:, 1:]
    sel = t != -100
    tok = F.cross_entropy(llm.lm_head(m.norm(x[:, :-1][sel])), t[sel], reduction="none")
    per_row = torch.zeros(b).index_add_(0, torch.arange(b)[:, None].expand_as(t)[sel], tok)
    return (per_row / sel.sum(1).clamp_min(1)).mean()


class _Cfg:  # reader_autocast reads c.cfg only
    def __init__(self, dtype):
        self.cfg = {"reader_dtype": dtype}


def bench(reps: int) -> dict:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    lvocab = len(llm_tok_json()["model"]["vocab"])
    mc = configs(len(text_tok_json()["model"]["vocab"]), lvocab, 1)
    H = mc["llm"].hidden_size

    def ids(n):  # random words, never the <image> placeholder
        return [i if i != recipe.IMAGE_ID else i + 1 for i in torch.randint(0, lvocab - 1, (n,), generator=g).tolist()]

    def seqs():
        out = []
        for n_ans, n in ((24, 2), (4, 10), (12, 22)):
            for _ in range(n_ans):
                p = ids(15)
                p.insert(12, recipe.IMAGE_ID)
                out.append((p, ids(n)))
        return out

    batches = [seqs() for _ in range(4)]
    res = {}
    for mode, n_vis in (("64-token mode", 64), ("fused (128 tokens)", 128)):
        feats = torch.randn(40, n_vis, 128, generator=g)
        for name, dtype, loss_fn in (("float32 (v3)", None, recipe.lm_loss),
                                     ("answer logits", None, answer_logits_loss),
                                     ("bfloat16 autocast (v4)", "bfloat16", recipe.lm_loss)):
            torch.manual_seed(1)
            llm = recipe.LlamaForCausalLM(mc["llm"])
            proj = MlpProjector(ProjectorConfig(128, H))
            params = list(proj.parameters()) + list(llm.parameters())
            opt = torch.optim.AdamW(params, lr=recipe.TUNE_LR, weight_decay=0.01)
            saved, recipe.lm_loss = recipe.lm_loss, loss_fn  # optimise calls the module's lm_loss
            try:
                step = lambda b: recipe.optimise(llm, b, lambda: proj(feats), opt, params,  # noqa: E731
                                                 recipe.reader_autocast(_Cfg(dtype)))
                first = step(batches[0])
                ts = []
                for i in range(reps):
                    t0 = time.perf_counter()
                    step(batches[i % len(batches)])
                    ts.append(time.perf_counter() - t0)
            finally:
                recipe.lm_loss = saved
            res.setdefault(mode, {})[name] = {"seconds": statistics.median(ts), "first_loss": first}
    return {"torch": torch.__version__, "reps": reps,
            "bf16_native": bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()),
            "steps": res}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = bench(args.reps)
    if args.json:
        print(json.dumps(r))
        return
    print(f"median seconds per stage-2 step, 1 thread, {args.reps} reps, torch {r['torch']}, "
          f"native bf16: {'yes' if r['bf16_native'] else 'no (emulated)'}")
    print("| mode | variant | s/step | speed-up vs float32 | first-step loss |")
    print("|---|---|---|---|---|")
    for mode, vs in r["steps"].items():
        ref = vs["float32 (v3)"]["seconds"]
        for name, v in vs.items():
            print(f"| {mode} | {name} | {v['seconds']:.4f} | {ref / v['seconds']:.2f}x | {v['first_loss']:.4f} |")


if __name__ == "__main__":
    sys.exit(main())
