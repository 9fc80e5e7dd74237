"""PyTorch reference timings for `twinlens bench`.

Times the same stages the TypeScript engine reports (VAE, text encoder, the
batch-2 UNet pass, CLIP, projectors, LLM prefill and per-token decode) with
the reference PyTorch modules, eagerly, on the same image and question, and
prints JSON {"stages": {stage: median_ms}}. The engine divides these by its
own medians to print speed-up ratios measured in the same run.

Reference modules exist for the fixture packs (rebuilt bit-identically from
their seeds by twinlens_train.fixtures.make.build_models). For other packs it exits 3 with a
reason, which the CLI shows as "reference: skipped".

    python -m twinlens_train.bench.reference --pack DIR --image PNG [--question Q] [--iterations N]
    (from training/, or with PYTHONPATH=training: how src/cli/commands/bench.ts runs it)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

from twinlens_train.fixtures import make as fx
from twinlens_train.images import load_png
from twinlens_train.pipeline import SD_TAPS, ReferencePipeline
from twinlens_train.schedule import LATENT_SCALE_SD
from twinlens_train.tokenizer import ReferenceTokenizer, prompt_ids


def median_ms(fn, iterations: int) -> float:
    fn()  # warm-up
    xs = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(xs)


@torch.no_grad()
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--question", default=fx.QUESTION)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(2)
    name = json.load(open(os.path.join(args.pack, "pack.json")))["name"]
    if name != "tiny":
        print(f"no reference PyTorch modules for pack {name!r} (only the 'tiny' fixture)", file=sys.stderr)
        return 3
    img = load_png(args.image)
    c = fx.build_models(img)
    pipe_vae = ReferencePipeline.vae_pixels(img)
    clip_px = ReferencePipeline.clip_pixels(img)
    tok = ReferenceTokenizer(c["text_tok"])
    ids = torch.tensor([prompt_ids(tok, t, fx.TEXT_MAX_LENGTH, c["text_tok"]["model"]["vocab"]["<|endoftext|>"])
                        for t in ("", args.question)], dtype=torch.int32)
    ehs = c["text"](ids)[0]
    latent = c["vae"](pipe_vae) * LATENT_SCALE_SD
    sample = latent.repeat(2, 1, 1, 1)
    timestep = torch.tensor([50], dtype=torch.int64)
    clip_feats = torch.randn(1, 16, c["clip_cfg"].hidden_size)
    tap_dim = c["unet_cfg"].block_out_channels[::-1][1]
    diff_feats = torch.randn(1, 16, tap_dim)
    H = c["llm_cfg"].hidden_size
    prompt = torch.randn(1, 42, H)
    llm = c["llm"]

    def decode_steps(n: int = 8):
        logits, past = llm(prompt)
        for _ in range(n):
            logits, past = llm(torch.randn(1, 1, H), past_key_values=past)

    stages = {
        "vae": median_ms(lambda: c["vae"](pipe_vae), args.iterations),
        "text_encoder": median_ms(lambda: c["text"](ids), args.iterations),
        "unet_batch2": median_ms(lambda: c["unet"](sample, timestep, ehs), args.iterations),
        "clip": median_ms(lambda: c["clip"](clip_px), args.iterations),
        "projectors": median_ms(lambda: (c["proj_clip"](clip_feats), c["proj_diff"](diff_feats)), args.iterations),
        "prefill": median_ms(lambda: llm(prompt), args.iterations),
    }
    full = median_ms(lambda: decode_steps(8), args.iterations)
    stages["decode_per_token"] = max(0.0, (full - stages["prefill"]) / 8)
    print(json.dumps({"stages": stages, "note": f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads; taps: {list(SD_TAPS)[:1]}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
