"""Which UNet tap should the diffusion modes read? A validation-only experiment behind recipe v3.

Builds a work folder beside a finished one (same data, CLIP, VAE; the UNet checkpoint given) whose diffusion
features come from another tap, optionally folded k x k into fewer tokens (pipeline.fold_tokens, the engine's
diffusionFold), then trains the recipe's stage 1 and a `diffusion` reader for --steps stage-2 steps and scores it
on the validation pairs and questions (pairs.val_scores). Nothing here reads the test split.

    python -m twinlens_train.mini_world.tap_experiment --base .work/full --unet .work/u3k/unet.pt \\
        --tap U-L2-R2-Res-Out --fold 2 --steps 4000 --out .work/tap-hr
(.work/u3k/unet.pt: the v2.2 UNet stage run with unet_steps=3000.) The v3 decision compared that run with
--tap U-L1-R1-B0-Cross-Q --fold 1 on the same UNet (numbers in the model card).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess

import numpy as np
import torch

from twinlens_train.mini_world import pairs as P
from twinlens_train.mini_world.recipe import Ctx, log, stage_llm
from twinlens_train.mw_models import GUIDANCE
from twinlens_train.paths import module_cmd, module_env
from twinlens_train.pipeline import SD_TAPS


def setup(base: str, out: str, unet: str, tap: str, fold: int, quick: bool = False) -> Ctx:
    os.makedirs(out, exist_ok=True)
    for f in ("data.npz", "data.json", "clip.pt", "vae.pt", "latents.npy", "pairs.json"):
        if not os.path.exists(os.path.join(out, f)):
            os.symlink(os.path.abspath(os.path.join(base, f)), os.path.join(out, f))
    if not os.path.exists(os.path.join(out, "unet.pt")):
        os.symlink(os.path.abspath(unet), os.path.join(out, "unet.pt"))
    c = Ctx(quick, os.path.join(out, "pack"), os.path.abspath(out))
    c.cfg = dict(c.cfg, tap=tap, fold=fold)
    if not os.path.exists(c.path("features.npz")):
        fx = c.extractor()
        d = c.data()
        s = np.float32(GUIDANCE)
        x_t = fx.noisy(c.latents(fx))
        fu = fx.tap(x_t, [""] * len(d["images"]))
        fcap = fx.tap(x_t, d["captions"])
        qi = [q[0] for q in d["qas"]]
        fq = fx.tap(x_t[qi], [q[1] for q in d["qas"]])
        clip = np.load(os.path.join(base, "features.npz"))["clip"]
        np.savez(c.path("features.npz"), clip=clip, uncond=fu.astype(np.float16),
                 caption=(fu + s * (fcap - fu)).astype(np.float16), question=(fu[qi] + s * (fq - fu[qi])).astype(np.float16))
        # the pairs of stage pairdata (same scenes as the base folder's), with this tap's features
        cfg = c.cfg
        from twinlens_train import world
        train = world.build_pairs("train-pairs", cfg["n_train_pairs"] + cfg["pair_extra"])[cfg["n_train_pairs"]:]
        val = world.build_pairs("val-pairs", cfg["pair_val"])
        meta = json.load(open(c.path("pairs.json")))
        imgs = np.stack([p[f"image_{k}"] for ps in (train, val) for p in ps for k in ("a", "b")])
        x2 = fx.noisy(fx.latents(imgs, bs=64))
        pu = fx.tap(x2, [""] * len(imgs))
        pq = fx.tap(x2, [it["question"] for it in meta["items"]])
        pclip = np.load(os.path.join(base, "pairs.npz"))["clip"]
        np.savez(c.path("pairs.npz"), clip=pclip, uncond=pu.astype(np.float16),
                 question=(pu + s * (pq - pu)).astype(np.float16))
        log(f"tap {tap} fold {fold}: diffusion tokens {fu.shape[1:]}")
    if not os.path.exists(c.path("llm0.pt")):
        stage_llm(c)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="a finished work folder (stages data .. features and pairdata)")
    ap.add_argument("--unet", required=True, help="the UNet checkpoint whose tap is read")
    ap.add_argument("--tap", required=True, choices=sorted(SD_TAPS))
    ap.add_argument("--fold", type=int, default=1)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="the base folder was made with --quick")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = setup(a.base, a.out, a.unet, a.tap, a.fold, a.quick)
    # the recipe's own stages 1 and 2 (train.py, as a process: nothing imports train), the diffusion mode only
    subprocess.run(module_cmd("twinlens_train.mini_world.train", "--work", c.work, "--pack", c.pack, "--stage", "align",
                              "--stage", "tune", "--jobs", "1", "--threads", str(a.threads), *(["--quick"] if a.quick else [])),
                   env=module_env({"MW_MODES": "diffusion", "MW_TUNE_STEPS": str(a.steps)}), check=True)
    al = torch.load(c.path("align.pt"))
    res = P.val_scores(c, "diffusion", *P.load_mode(c, "diffusion", al["stats"], "tune-diffusion.pt"))
    res.update(tap=a.tap, fold=a.fold, steps=a.steps, unet=a.unet)
    json.dump(res, open(c.path("tap-experiment.json"), "w"), indent=1)
    log(f"validation: {json.dumps(res)}")


if __name__ == "__main__":
    main()
