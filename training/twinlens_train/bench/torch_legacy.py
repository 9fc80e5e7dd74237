"""Debian's PyTorch (1.13) beside the scale bench's PyTorch 2.13: the SD 1.x UNet, same weights, same inputs.

Debian's python3-torch has neither `diffusers` nor `safetensors`, so the UNet runs as our own
diffusers-compatible class (twinlens_train.models.unet: same module names and maths; SD 1.x's 1x1-conv
projections in and out of each transformer are the equal Linear layers there). Two steps:

    .venv/bin/python -m twinlens_train.bench.torch_legacy --convert --dir DIR [--image 256]
        once per bench folder: DIR/torch/unet.safetensors and the UNet's inputs and reference output from
        DIR/io-<image>.safetensors -> DIR/torch/unet-legacy-<image>.pt (torch.save, readable by torch 1.13)
    /usr/bin/python3 -m twinlens_train.bench.torch_legacy --time --dir DIR [--image 256] [--iterations 5]
        times the batch-2 pass with the reference's settings (threads = cores, inference_mode, the faster of
        contiguous / channels-last) and prints JSON: {"torch", "threads", "ms", "median", "layout",
        "max_rel_diff"} (max |ours - reference| / max |reference| on the same inputs)

`twinlens bench --scale` runs both when a Python other than the project's has torch (TWINLENS_LEGACY_PYTHON,
default /usr/bin/python3).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from twinlens_train.models.unet import UNet2DConditionModel, UNetConfig


def legacy_path(d: str, image: int) -> str:
    return os.path.join(d, "torch", f"unet-legacy-{image}.pt")


def sd1_config(c: dict) -> UNetConfig:
    """Our class's config from the diffusers config scale_models wrote (SD 1.x: `attention_head_dim` is
    the number of heads, a known misnomer of that config)."""
    return UNetConfig(in_channels=c["in_channels"], out_channels=c["out_channels"],
                      block_out_channels=tuple(c["block_out_channels"]), down_block_types=tuple(c["down_block_types"]),
                      up_block_types=tuple(c["up_block_types"]), layers_per_block=c["layers_per_block"],
                      cross_attention_dim=c["cross_attention_dim"], num_attention_heads=c["attention_head_dim"],
                      norm_num_groups=c["norm_num_groups"])


def convert(d: str, image: int) -> str:
    from safetensors.torch import load_file

    out = legacy_path(d, image)
    if os.path.exists(out):
        return out
    cfg = json.load(open(os.path.join(d, "scale.json")))["parts"]["unet"]["config"]
    state = load_file(os.path.join(d, "torch", "unet.safetensors"))
    # 1x1 convolutions [C, C, 1, 1] -> Linear [C, C]: the same product per pixel
    state = {k: (v[:, :, 0, 0] if v.dim() == 4 and v.shape[2:] == (1, 1) and ".proj_" in k else v) for k, v in state.items()}
    io = load_file(os.path.join(d, f"io-{image}.safetensors"))
    tmp = out + ".part"
    torch.save({"config": cfg, "state": state, "inputs": {k[len("unet.in."):]: v for k, v in io.items() if k.startswith("unet.in.")},
                "reference": io["unet.out.out_sample"]}, tmp)
    os.replace(tmp, out)  # a cut-short conversion never looks complete
    return out


def time_unet(d: str, image: int, iterations: int, warmup: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    blob = torch.load(legacy_path(d, image))
    m = UNet2DConditionModel(sd1_config(blob["config"]))
    m.load_state_dict(blob["state"])  # strict: every tensor present and shaped
    m.eval()
    x, t, ehs = blob["inputs"]["sample"], blob["inputs"]["timestep"], blob["inputs"]["encoder_hidden_states"]
    best = None
    for layout in ("contiguous", "channels_last"):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        m = m.to(memory_format=fmt)
        xi = x.contiguous(memory_format=fmt)
        with torch.inference_mode():
            out = None
            for _ in range(warmup):
                out = m(xi, t, ehs)
            ms = []
            for _ in range(iterations):
                t0 = time.perf_counter()
                out = m(xi, t, ehs)
                ms.append((time.perf_counter() - t0) * 1000)
        if best is None or statistics.median(ms) < best["median"]:
            ref = blob["reference"]
            diff = float((out.float() - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
            best = {"ms": [round(v, 1) for v in ms], "median": round(statistics.median(ms), 1), "layout": layout,
                    "max_rel_diff": diff}
    return {"torch": torch.__version__, "threads": threads, **best}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--image", type=int, default=256)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--convert", action="store_true")
    mode.add_argument("--time", action="store_true")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if a.convert:
        print(json.dumps({"converted": convert(a.dir, a.image)}))
    else:
        print(json.dumps(time_unet(a.dir, a.image, a.iterations, a.warmup, a.threads)))


if __name__ == "__main__":
    main()
