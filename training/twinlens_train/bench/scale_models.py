"""Real-size bench models for `twinlens bench --scale`: seeded random weights in the exact public
architectures, built from the real `diffusers` / `transformers` classes and exported as the public
repositories are, plus the same weights as safetensors for the PyTorch reference
(twinlens_train.bench.scale_reference).

    python -m twinlens_train.bench.scale_models --scale sd15 --out DIR
    python -m twinlens_train.bench.scale_models --scale sd15-mini --out DIR   # CI's reduced variant

DIR gets (the layouts `twinlens packs import` reads, REFERENCE.md A1/A2):
    sd/      diffusers-script ONNX layout: unet/model.onnx + weights.pb (dynamic axes), vae_encoder/,
             text_encoder/, tokenizer/, scheduler/, feature_extractor/, model_index.json
    clip/    transformers.js layout: onnx/vision_model.onnx (image_embeds, last_hidden_state), configs
    llm/     transformers.js layout: onnx/decoder_model_merged.onnx (KV cache), its int8 `_quantized`
             variant, onnx/embed_tokens.onnx
    torch/   <part>.safetensors: the exported weights, for the reference
    matmul.onnx   one n x n float32 MatMul: the practical compute ceiling, timed in the same run
    scale.json    configs, parameter and MAC counts, seeds; rewritten after each part ("complete" at the end)

Why generated, not committed: the sd15 UNet alone is 3.4 GB. `bench` caches DIR between runs.
Why the real classes: the reference must be what a researcher runs, and the exported tensor names
must be those of the public exports (the engine finds taps by them).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

from twinlens_train.export import EMBED_TOKENS_AXES, EmbedTokens
from twinlens_train.fixtures.family_sd import (TEXT_MAX, feature_extractor_json, model_index, scheduler_json,
                                                with_forward, write_clip_tokenizer)
from twinlens_train.macs import count_macs
from twinlens_train.fixtures.family_tokenizers import CLIP_EOT, ClipBpeTokenizer
from twinlens_train.pipeline import CLIP_MEAN, CLIP_STD
from twinlens_train.tokenizer import BASE_WORDS, write_json

SEED = 20261203

# The public architectures (SD 1.5's config.json files; openai/clip-vit-base-patch32) and one reduced
# variant with the same block structure, for CI. `image` is the VAE input size the bench uses by default.
SCALES = {
    "sd15": {
        "image": 256,
        "unet": dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                     block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
                     down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                     up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, norm_num_groups=32),
        "vae": dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
                    block_out_channels=(128, 256, 512, 512), norm_num_groups=32,
                    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4),
        "text": dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, max_position_embeddings=TEXT_MAX, hidden_act="quick_gelu"),
        "clip": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                     image_size=224, patch_size=32, projection_dim=512, hidden_act="quick_gelu"),
        # Qwen2-0.5B (llava-interleave-qwen-0.5b's language model)
        "llm": dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                    num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                    rope_theta=1000000.0, tie_word_embeddings=True, rms_norm_eps=1e-6),
        "matmul": 2048,
    },
    "sd15-mini": {
        "image": 128,
        "unet": dict(sample_size=16, in_channels=4, out_channels=4, layers_per_block=2,
                     block_out_channels=(32, 64, 64, 64), cross_attention_dim=64, attention_head_dim=8,
                     down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                     up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, norm_num_groups=32),
        "vae": dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, sample_size=128,
                    block_out_channels=(32, 32, 64, 64), norm_num_groups=32,
                    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4),
        "text": dict(vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=TEXT_MAX, hidden_act="quick_gelu"),
        "clip": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                     image_size=224, patch_size=32, projection_dim=32, hidden_act="quick_gelu"),
        "llm": dict(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                    rope_theta=1000000.0, tie_word_embeddings=True, rms_norm_eps=1e-6),
        "matmul": 512,
    },
}

# Seeds per part: each part is built right after torch.manual_seed(SEED + offset).
PART_SEEDS = {"unet": 1, "vae": 2, "text": 3, "clip": 4, "llm": 5}
# The decode bench: a prompt of PROMPT positions (random embeddings, as image tokens + question would be),
# then DECODE greedy tokens.
PROMPT, DECODE = 64, 16


# ------------------------------------------------------------------ the modules (real classes)
def build(scale: str, part: str, attn: str = "eager") -> nn.Module:
    """The part's module with seeded random weights, as the reference also runs it. `attn`: the LLM's
    attention implementation (the export traces eager; the reference runs transformers' default, sdpa)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = SCALES[scale][part]
    torch.manual_seed(SEED + PART_SEEDS[part])
    if part == "unet":
        m = UNet2DConditionModel(**cfg)
    elif part == "vae":
        m = AutoencoderKL(**cfg)
    elif part == "text":
        m = CLIPTextModel(CLIPTextConfig(**cfg, eos_token_id=2))
    elif part == "llm":
        from transformers import Qwen2Config, Qwen2ForCausalLM
        c = Qwen2Config(**cfg)
        c._attn_implementation = attn
        m = Qwen2ForCausalLM(c)
    else:
        m = CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg))
    return m.eval()


def unet_forward(self, sample, timestep, encoder_hidden_states):
    # The diffusers script's export forward: the out_sample tensor, not the output dataclass.
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel.forward(self, sample, timestep, encoder_hidden_states, return_dict=False)[0]


def vae_encoder_forward(self, sample):
    # The diffusers script exports encode(...).latent_dist.sample(); the mode is the same work
    # without a random draw, so engine and reference compute the same numbers.
    from diffusers import AutoencoderKL
    return AutoencoderKL.encode(self, sample).latent_dist.mode()


def text_forward(self, input_ids):
    from transformers import CLIPTextModel
    out = CLIPTextModel.forward(self, input_ids=input_ids)
    return out.last_hidden_state, out.pooler_output


def clip_forward(self, pixel_values):
    from transformers import CLIPVisionModelWithProjection
    out = CLIPVisionModelWithProjection.forward(self, pixel_values=pixel_values)
    return out.image_embeds, out.last_hidden_state


def causal_mask(inputs_embeds, attention_mask):
    """The additive [b, 1, n, past+n] mask built from the 2-D one with plain tensor ops: transformers'
    own mask builder uses vmap, which the TorchScript exporter cannot trace."""
    s, t = inputs_embeds.shape[1], attention_mask.shape[1]
    rows = torch.arange(s)[:, None] + (t - s)
    allowed = (torch.arange(t)[None, :] <= rows)[None, None] & attention_mask[:, None, None, :].bool()
    return torch.where(allowed, torch.tensor(0.0), torch.tensor(torch.finfo(torch.float32).min))


def llm_forward(self, inputs_embeds, attention_mask, position_ids, *past):
    """transformers.js decoder_model_merged signature (export.kv_decoder_io): flat past in, flat present out."""
    from transformers import Qwen2ForCausalLM
    from transformers.cache_utils import DynamicCache
    cache = DynamicCache()
    for i in range(len(past) // 2):
        cache.update(past[2 * i], past[2 * i + 1], i)
    out = Qwen2ForCausalLM.forward(self, inputs_embeds=inputs_embeds, attention_mask=causal_mask(inputs_embeds, attention_mask),
                                   position_ids=position_ids, past_key_values=cache, use_cache=True)
    return (out.logits,) + tuple(t for layer in out.past_key_values.layers for t in (layer.keys, layer.values))


FORWARDS = {"unet": unet_forward, "vae": vae_encoder_forward, "text": text_forward, "clip": clip_forward,
            "llm": llm_forward}


def part_inputs(scale: str, part: str, image: int) -> tuple:
    """The inputs the bench times (shared with the reference): batch-2 UNet as the engine runs it."""
    s = SCALES[scale]
    g = torch.Generator().manual_seed(SEED)
    if part == "unet":
        lat = image // 8
        d = s["unet"]["cross_attention_dim"]
        return (torch.randn(2, 4, lat, lat, generator=g), torch.tensor([50.0]), torch.randn(2, TEXT_MAX, d, generator=g))
    if part == "vae":
        return (torch.rand(1, 3, image, image, generator=g) * 2 - 1,)
    if part == "text":
        return (torch.randint(0, 400, (1, TEXT_MAX), generator=g, dtype=torch.int32),)
    if part == "llm":
        c = s["llm"]
        kv = c["num_key_value_heads"]
        hd = c["hidden_size"] // c["num_attention_heads"]
        # The export's dummy: 2 cached positions, 3 new ones (dynamic axes cover 0…n).
        return (torch.randn(1, 3, c["hidden_size"], generator=g), torch.ones(1, 5, dtype=torch.int64),
                torch.arange(2, 5)[None], *[torch.randn(1, kv, 2, hd, generator=g) for _ in range(2 * c["num_hidden_layers"])])
    c = s["clip"]["image_size"]
    return (torch.randn(1, 3, c, c, generator=g),)


# ------------------------------------------------------------------ export
def export_large(module: nn.Module, args: tuple, path: str, inputs, outputs, axes, data: str | None) -> None:
    """torch.onnx.export through a file (a >2 GB model cannot be serialised as one protobuf), then
    re-saved with every initializer in one external file `data` next to the model, as the public
    exports are (or inline when data is None and the model is small)."""
    module.eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
        raw = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            # TorchScript exporter: it names tensors /<module path>/<Op>_output_0 as the public exports
            # do (torch >= 2.9 defaults to the dynamo exporter, whose names differ).
            torch.onnx.export(module, args, raw, input_names=list(inputs), output_names=list(outputs),
                              dynamic_axes=axes, opset_version=17, do_constant_folding=True, dynamo=False)
        model = onnx.load(raw, load_external_data=True)
        if data:
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                            size_threshold=1024, convert_attribute=False)
        else:
            onnx.save_model(model, path)
    onnx.checker.check_model(path)


def matmul_model(n: int, path: str) -> None:
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"])], "matmul", [a, b], [y])
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)  # ORT 1.2x reads IR <= 13


def write(scale: str, out: str) -> dict:
    from safetensors.torch import save_model

    # scale.json lists the parts already exported (rewritten after each one): an interrupted run, or a
    # scale that gained a part, exports only what is missing. A part not listed may be half-written.
    index = os.path.join(out, "scale.json")
    info = None
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            info = json.load(f)
        if info.get("seed") != SEED or info.get("scale") != scale:
            info = None
    if info is None:
        if os.path.exists(out):
            shutil.rmtree(out)
        info = {"scale": scale, "seed": SEED, "parts": {}}
    s = SCALES[scale]
    if info.get("complete") and set(info["parts"]) == set(PART_SEEDS) and "llm_int8" in info:
        return info
    info["complete"] = False
    info["image"] = s["image"]
    t0 = time.time()
    os.makedirs(os.path.join(out, "torch"), exist_ok=True)
    tok = ClipBpeTokenizer(BASE_WORDS)
    sd, clip = os.path.join(out, "sd"), os.path.join(out, "clip")
    plan = [
        ("unet", f"{sd}/unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
         {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"}, "timestep": {0: "steps"},
          "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}},
         "weights.pb"),
        ("vae", f"{sd}/vae_encoder/model.onnx", ["sample"], ["latent_sample"],
         {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
          "latent_sample": {0: "batch", 2: "height_latent", 3: "width_latent"}}, "weights.pb"),
        ("text", f"{sd}/text_encoder/model.onnx", ["input_ids"], ["last_hidden_state", "pooler_output"],
         {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
          "pooler_output": {0: "batch"}}, "weights.pb"),
        ("clip", f"{clip}/onnx/vision_model.onnx", ["pixel_values"], ["image_embeds", "last_hidden_state"],
         {"pixel_values": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"},
          "image_embeds": {0: "batch_size"}, "last_hidden_state": {0: "batch_size"}}, "vision_model.onnx_data"),
    ]
    lc = s["llm"]
    layers = [f"{i}.{kind}" for i in range(lc["num_hidden_layers"]) for kind in ("key", "value")]
    llm_axes = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
                "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"},
                **{f"past_key_values.{n}": {0: "batch_size", 2: "past_sequence_length"} for n in layers},
                **{f"present.{n}": {0: "batch_size", 2: "total_sequence_length"} for n in layers}}
    plan.append(("llm", f"{out}/llm/onnx/decoder_model_merged.onnx",
                 ["inputs_embeds", "attention_mask", "position_ids", *[f"past_key_values.{n}" for n in layers]],
                 ["logits", *[f"present.{n}" for n in layers]], llm_axes, "decoder_model_merged.onnx_data"))
    for part, path, ins, outs, axes, data in plan:
        if part in info["parts"]:
            continue
        tp = time.time()
        m = with_forward(build(scale, part), FORWARDS[part])
        args = part_inputs(scale, part, s["image"])
        params = sum(p.numel() for p in m.parameters())
        macs = count_macs(m, args)
        export_large(m, args, path, ins, outs, axes, data)
        # Only the weights the export used (the VAE's decoder is not part of the encoder graph).
        # save_model: the LLM's lm_head shares the embedding table (tied), which save_file refuses.
        save_model(m, os.path.join(out, "torch", f"{part}.safetensors"))
        if part == "llm":
            export_large(EmbedTokens(m.model.embed_tokens), (torch.tensor([[2, 5, 6]]),), f"{out}/llm/onnx/embed_tokens.onnx",
                         ["input_ids"], ["inputs_embeds"], EMBED_TOKENS_AXES, "embed_tokens.onnx_data")
        info["parts"][part] = {"params": params, "macs": macs, "config": {k: list(v) if isinstance(v, tuple) else v
                                                                          for k, v in s[part].items()},
                               "onnx": os.path.relpath(path, out), "export_s": round(time.time() - tp, 1)}
        print(f"{part}: {params / 1e6:.1f} M parameters, {macs / 1e9:.2f} GMAC, exported in {time.time() - tp:.0f} s",
              file=sys.stderr, flush=True)
        del m
        write_index(index, info)
    # The rest of the public SD folder (configs and tokenizer; the tokenizer is the fixtures' small
    # BPE: the text encoder's 49408-row embedding is real-sized, the ids it sees are below 400).
    os.makedirs(f"{sd}/scheduler", exist_ok=True)
    write_json(f"{sd}/scheduler/scheduler_config.json", scheduler_json())
    write_clip_tokenizer(f"{sd}/tokenizer", tok, CLIP_EOT)
    os.makedirs(f"{sd}/feature_extractor", exist_ok=True)
    write_json(f"{sd}/feature_extractor/preprocessor_config.json", feature_extractor_json())
    write_json(f"{sd}/model_index.json", model_index(True))
    c = s["clip"]
    write_json(f"{clip}/preprocessor_config.json", {
        "crop_size": {"height": c["image_size"], "width": c["image_size"]}, "do_center_crop": True,
        "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN,
        "image_processor_type": "CLIPImageProcessor", "image_std": CLIP_STD, "resample": 3,
        "rescale_factor": 1 / 255, "size": {"shortest_edge": c["image_size"]}})
    write_json(f"{clip}/config.json", {
        "_name_or_path": "openai/clip-vit-base-patch32", "architectures": ["CLIPModel"], "model_type": "clip",
        "projection_dim": c["projection_dim"],
        "text_config": {"model_type": "clip_text_model", "hidden_size": 512, "num_hidden_layers": 12},
        "vision_config": {"model_type": "clip_vision_model", **{k: c[k] for k in (
            "hidden_size", "image_size", "patch_size", "intermediate_size", "num_attention_heads",
            "num_hidden_layers", "projection_dim")}}})
    matmul_model(s["matmul"], os.path.join(out, "matmul.onnx"))
    if "llm_int8" not in info:
        info["llm_int8"] = quantize_decoder(os.path.join(out, info["parts"]["llm"]["onnx"]))
        write_index(index, info)
    info["matmul"] = s["matmul"]
    info["prompt"], info["decode"] = PROMPT, DECODE
    info["generate_s"] = round(time.time() - t0, 1)
    info["complete"] = True
    write_index(index, info)
    return info


def quantize_decoder(path: str) -> str:
    """The `_quantized` variant the transformers.js repos publish beside the fp32 decoder: onnxruntime's
    dynamic quantization, int8 weights for every MatMul (a quarter of the bytes read per token).
    Returns its path relative to the bench folder's llm/onnx."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    q = path.replace(".onnx", "_quantized.onnx")
    for f in (q, q + ".data"):
        if os.path.exists(f):
            os.remove(f)
    quantize_dynamic(path, q, weight_type=QuantType.QInt8, use_external_data_format=True, op_types_to_quantize=["MatMul"])
    print(f"llm int8: {os.path.basename(q)}", file=sys.stderr, flush=True)
    return os.path.basename(q)


def write_index(path: str, info: dict) -> None:
    """scale.json through a temporary file and a rename: never half-written."""
    write_json(path + ".tmp", info)
    os.replace(path + ".tmp", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    info = write(a.scale, os.path.abspath(a.out))
    print(json.dumps({"scale": info["scale"], "generate_s": info.get("generate_s")}))


if __name__ == "__main__":
    main()
