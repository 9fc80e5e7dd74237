"""How much the SD prompt moves a UNet tap: median over validation images of ||f_c - f_u|| / ||f_u|| at t = 50,
for the image's own coarse caption and for a mismatched one (the next image's caption). A tap the prompt barely
moves gives a captioner little of the prompt to read back, whatever its training (the leakage probe).

    python -m twinlens_train.mini_world.prompt_effect --work .work/v3 [--taps A,B] [--n 160]     (from training/)

Writes --out (default <work>/prompt-effect.json; stage report writes <pack>/prompt-effect.json). Validation images only; nothing here feeds training.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from twinlens_train.mini_world.recipe import RECIPES, SHIPPED_RECIPE, Ctx, log


def prompt_effect(c: Ctx, taps, n: int) -> dict:
    d = c.data()
    lo, hi = d["val_images"]
    idx = np.arange(lo, min(hi, lo + n))
    lat = c.latents(c.extractor())[idx]
    caps = [d["captions"][i] for i in idx]
    prompts = {"own caption": caps, "mismatched caption": caps[1:] + caps[:1]}
    base = dict(c.cfg)
    out = {}
    for tap in taps:
        c.cfg = dict(base, tap=tap, fold=1)  # the fold only regroups channels: norms are the same
        fx = c.extractor()
        x_t = fx.noisy(lat)
        fu = fx.tap(x_t, [""] * len(idx)).reshape(len(idx), -1)
        out[tap] = {}
        for name, pr in prompts.items():
            fc = fx.tap(x_t, pr).reshape(len(idx), -1)
            rel = np.linalg.norm(fc - fu, axis=1) / np.linalg.norm(fu, axis=1)
            out[tap][name] = round(float(np.median(rel)), 4)
        log(f"prompt effect at {tap}: {out[tap]}")
    c.cfg = base
    return {"t": int(fx.t), "images": len(idx), "taps": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="a mini_world.train work folder with stages data .. unet done")
    ap.add_argument("--recipe", default=SHIPPED_RECIPE, choices=sorted(RECIPES))
    ap.add_argument("--taps", default="U-L1-R1-B0-Cross-Q,U-L2-R2-Res-Out")
    ap.add_argument("--n", type=int, default=160, help="validation images")
    ap.add_argument("--quick", action="store_true", help="the work folder was made with --quick")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    c = Ctx(args.quick, os.path.join(args.work, "pack"), os.path.abspath(args.work), args.recipe)
    rep = prompt_effect(c, [t for t in args.taps.split(",") if t], args.n)
    with open(args.out or c.path("prompt-effect.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
