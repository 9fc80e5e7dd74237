"""PyTorch reference for `twinlens bench --scale`: the same modules (real `diffusers` /
`transformers` classes, the weights scale_models exported), the same inputs, timed eagerly with the
settings a researcher would use on a CPU: threads = cores, inference_mode, and for the convolutional
parts whichever memory layout (contiguous or channels-last) is faster on this machine.

    python -m twinlens_train.bench.scale_reference --dir DIR [--image 256] [--iterations 5] [--threads N]

Writes DIR/io-<image>.safetensors (each part's inputs and the reference outputs, so the engine can
feed the same inputs and check it computes the same numbers) and prints JSON:
    {"torch": "2.13.0", "threads": 2, "stages": {"unet_batch2": {"ms": [...], "median": ..., "layout": ...}, ...}}
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

from twinlens_train.bench.scale_models import DECODE, FORWARDS, PROMPT, SCALES, SEED, build, part_inputs
from twinlens_train.fixtures.family_sd import with_forward
from twinlens_train.macs import count_macs

# Engine stage name for each part.
STAGES = {"unet": "unet_batch2", "vae": "vae", "text": "text_encoder", "clip": "clip"}
INPUT_NAMES = {"unet": ["sample", "timestep", "encoder_hidden_states"], "vae": ["sample"], "text": ["input_ids"],
               "clip": ["pixel_values"]}
OUTPUT_NAMES = {"unet": ["out_sample"], "vae": ["latent_sample"], "text": ["last_hidden_state", "pooler_output"],
                "clip": ["image_embeds", "last_hidden_state"]}


def load(d: str, scale: str, part: str) -> torch.nn.Module:
    from safetensors.torch import load_model

    # The LLM runs as a researcher runs it: the model's own forward, transformers' default attention.
    m = build(scale, part, attn="sdpa") if part == "llm" else with_forward(build(scale, part), FORWARDS[part])
    load_model(m, os.path.join(d, "torch", f"{part}.safetensors"))  # strict: every tensor present and shaped
    return m.eval()


def timed(fn, iterations: int, warmup: int) -> list:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def llm_reference(m, scale: str, iterations: int, warmup: int, io: dict) -> dict:
    """Greedy decoding as a researcher writes it: prefill PROMPT positions of embeddings, then DECODE
    tokens, each embedded and fed with the model's own KV cache. Medians over `iterations` runs."""
    c = SCALES[scale]["llm"]
    g = torch.Generator().manual_seed(SEED + 7)
    prompt = torch.randn(1, PROMPT, c["hidden_size"], generator=g) * 0.05  # embedding-sized values
    prefill, per_token, tokens, first = [], [], [], None
    with torch.inference_mode():
        for run in range(warmup + iterations):
            t0 = time.perf_counter()
            out = m(inputs_embeds=prompt, use_cache=True)
            t1 = time.perf_counter()
            cache, tok = out.past_key_values, int(out.logits[0, -1].argmax())
            if first is None:
                first = out.logits[0, -1].float().clone()
            run_tokens, run_ms = [tok], []
            for _ in range(DECODE):
                ts = time.perf_counter()
                out = m(inputs_embeds=m.model.embed_tokens(torch.tensor([[tok]])), past_key_values=cache, use_cache=True)
                cache, tok = out.past_key_values, int(out.logits[0, -1].argmax())
                run_ms.append((time.perf_counter() - ts) * 1000)
                run_tokens.append(tok)
            if run >= warmup:
                prefill.append((t1 - t0) * 1000)
                per_token += run_ms
            tokens = run_tokens
    io["llm.in.inputs_embeds"] = prompt.contiguous()
    io["llm.out.logits"] = first
    io["llm.out.tokens"] = torch.tensor(tokens, dtype=torch.float32)
    print(f"llm: prefill {statistics.median(prefill):.1f} ms, {statistics.median(per_token):.1f} ms/token", file=sys.stderr, flush=True)
    return {"prefill": {"ms": [round(x, 2) for x in prefill], "median": round(statistics.median(prefill), 2), "layout": "sdpa"},
            "decode_per_token": {"ms": [round(x, 2) for x in per_token], "median": round(statistics.median(per_token), 2),
                                 "layout": "sdpa", "tokens": tokens}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--image", type=int, default=0, help="VAE input size (default: the scale's)")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--parts", default="vae,text,unet,clip,llm")
    a = ap.parse_args()
    with open(os.path.join(a.dir, "scale.json"), encoding="utf-8") as f:
        info = json.load(f)
    scale = info["scale"]
    image = a.image or SCALES[scale]["image"]
    torch.set_num_threads(a.threads)
    from safetensors.torch import save_file

    io, stages = {}, {}
    for part in a.parts.split(","):
        m = load(a.dir, scale, part)
        if part == "llm":
            stages.update(llm_reference(m, scale, a.iterations, a.warmup, io))
            del m
            continue
        args = part_inputs(scale, part, image)
        layouts = ["contiguous"]
        if part in ("unet", "vae"):
            layouts.append("channels_last")
        best = None
        for layout in layouts:
            if layout == "channels_last":
                m = m.to(memory_format=torch.channels_last)
                run_args = tuple(x.to(memory_format=torch.channels_last) if x.dim() == 4 else x for x in args)
            else:
                run_args = args

            def run():
                with torch.inference_mode():
                    return m(*run_args)

            ms = timed(run, a.iterations, a.warmup)
            med = statistics.median(ms)
            if best is None or med < best["median"]:
                best = {"ms": [round(x, 2) for x in ms], "median": round(med, 2), "layout": layout}
            print(f"{part} {layout}: median {med:.1f} ms", file=sys.stderr, flush=True)
        with torch.inference_mode():
            outs = m(*args)
        outs = outs if isinstance(outs, tuple) else (outs,)
        for name, t in zip(INPUT_NAMES[part], args):
            io[f"{part}.in.{name}"] = t.contiguous().float()  # float32 throughout (the engine's reader); ids are small
        for name, t in zip(OUTPUT_NAMES[part], outs):
            io[f"{part}.out.{name}"] = t.contiguous().float()
        best["gmac"] = round(count_macs(m, args) / 1e9, 3)  # at this image size (scale.json has the default's)
        stages[STAGES[part]] = best
        del m
    save_file(io, os.path.join(a.dir, f"io-{image}.safetensors"))
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "image": image, "stages": stages}))


if __name__ == "__main__":
    main()
