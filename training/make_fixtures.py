#!/usr/bin/env python3
"""Build the test fixture packs (tiny, tiny-fp16), fixture images and goldens.

    .venv/bin/python training/make_fixtures.py --out test/fixtures/packs

Deterministic: every module is seeded; goldens come from the PyTorch reference
pipeline (twinlens_train.pipeline), never from ONNX. Check the result with
training/verify_fixtures.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Dict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twinlens_train import noise  # noqa: E402
from twinlens_train.export import (attention_softmax_tensor, export_onnx, initializers_to_fp16, module_output_tensor,  # noqa: E402
                                   sha256_file)
from twinlens_train.images import BLUE, GREEN, draw_scene, save_png  # noqa: E402
from twinlens_train.models import (CLIPTextConfig, CLIPTextModel, CLIPVisionConfig,  # noqa: E402
                                   CLIPVisionModelWithProjection, FusedProjectorConfig, FusedXAttnProjector,
                                   LLMConfig, LlamaForCausalLM, MlpProjector, ProjectorConfig, UNet2DConditionModel,
                                   UNet2DConditionModelHalfIO, UNetConfig, VAEEncoder, VAEEncoderConfig)
from twinlens_train.models.layers import init_variance_preserving  # noqa: E402
from twinlens_train.pipeline import (CLIP_MEAN, CLIP_STD, SD_TAPS, DiffusionParts, LlmParts,  # noqa: E402
                                     ReferencePipeline)
from twinlens_train.schedule import LATENT_SCALE_SD, ScheduleConfig, alphas_cumprod, write_scheduler_config  # noqa: E402
from twinlens_train.tokenizer import (ReferenceTokenizer, llm_tokenizer_config, llm_tokenizer_json,  # noqa: E402
                                      render_chat, text_tokenizer_config, text_tokenizer_json, write_json)

IMAGE_SIZE = 64
TEXT_MAX_LENGTH = 16
QUESTION = "what colour is the circle"
GOLDEN_TAPS = ["U-L1-R1-B0-Cross-Q", "U-L2-R2-Res-Out", "D-L2-R0-B0-Cross-Q"]
XATTN_LAYER = "up_blocks.1.attentions.1"
MODE_DIFFUSION = {"t": 50, "guidance": 4, "tap": "U-L1-R1-B0-Cross-Q", "prompt": "question", "seed": 0, "ensemble": 1}
SEEDS = {"vae": 101, "text": 102, "unet": 103, "clip": 104, "llm": 105, "proj_clip": 106, "proj_diff": 107,
         "proj_fused": 108}


def seeded(build, seed: int):
    torch.manual_seed(seed)
    m = build()
    init_variance_preserving(m, torch.Generator().manual_seed(seed))
    return m.eval()


def build_models(sample_img: np.ndarray) -> dict:
    text_tok = text_tokenizer_json()
    llm_tok = llm_tokenizer_json()
    c = {
        "text_tok": text_tok, "llm_tok": llm_tok,
        "vae_cfg": VAEEncoderConfig(block_out_channels=(8, 16, 16), norm_num_groups=4),
        "text_cfg": CLIPTextConfig(vocab_size=len(text_tok["model"]["vocab"]), hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=2, num_attention_heads=2,
                                   max_position_embeddings=TEXT_MAX_LENGTH,
                                   eos_token_id=text_tok["model"]["vocab"]["<|endoftext|>"]),
        "unet_cfg": UNetConfig(block_out_channels=(16, 16, 24, 24), cross_attention_dim=32, num_attention_heads=2,
                               norm_num_groups=8, ff_mult=2),
        "clip_cfg": CLIPVisionConfig(image_size=IMAGE_SIZE, patch_size=16, hidden_size=32, intermediate_size=64,
                                     num_hidden_layers=3, num_attention_heads=2, projection_dim=16),
        "llm_cfg": LLMConfig(vocab_size=len(llm_tok["model"]["vocab"]), hidden_size=48, intermediate_size=96,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
    }
    c["vae"] = seeded(lambda: VAEEncoder(c["vae_cfg"]), SEEDS["vae"])
    # Rescale quant_conv so the scaled latent has unit spread like real SD latents.
    with torch.no_grad():
        mean = c["vae"](ReferencePipeline.vae_pixels(sample_img))
        f = 1.0 / (LATENT_SCALE_SD * float(mean.std()))
        c["vae"].quant_conv.weight.mul_(f)
        c["vae"].quant_conv.bias.mul_(f)
    c["text"] = seeded(lambda: CLIPTextModel(c["text_cfg"]), SEEDS["text"])
    c["unet"] = seeded(lambda: UNet2DConditionModel(c["unet_cfg"]), SEEDS["unet"])
    c["clip"] = seeded(lambda: CLIPVisionModelWithProjection(c["clip_cfg"]), SEEDS["clip"])
    c["llm"] = seeded(lambda: LlamaForCausalLM(c["llm_cfg"]), SEEDS["llm"])
    tap_dim = c["unet_cfg"].block_out_channels[::-1][1]  # up_blocks.1 channels (to_q of U-L1-R1)
    H = c["llm_cfg"].hidden_size
    D = c["clip_cfg"].hidden_size
    c["proj_clip"] = seeded(lambda: MlpProjector(ProjectorConfig(D, H)), SEEDS["proj_clip"])
    c["proj_diff"] = seeded(lambda: MlpProjector(ProjectorConfig(tap_dim, H)), SEEDS["proj_diff"])
    c["proj_fused"] = seeded(lambda: FusedXAttnProjector(FusedProjectorConfig(D, tap_dim, H, heads=2)),
                             SEEDS["proj_fused"])
    return c


def fp16_unet_from(unet: UNet2DConditionModel) -> UNet2DConditionModelHalfIO:
    """Half-I/O UNet with weights rounded to float16 exactly where the ONNX file
    stores float16 initializers (tensors of >= 16 values)."""
    half = UNet2DConditionModelHalfIO(unet.config)
    sd = {k: (v.half().float() if v.numel() >= 16 else v.clone()) for k, v in unet.state_dict().items()}
    half.load_state_dict(sd)
    return half.eval()


# ------------------------------------------------------------------ export
class _Decoder(LlamaForCausalLM):
    """transformers.js decoder_model_merged signature over flat past tensors."""

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        pkv = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
        logits, presents = super().forward(inputs_embeds, attention_mask, position_ids, pkv)
        return (logits,) + tuple(t for kv in presents for t in kv)


class _Embed(torch.nn.Module):
    def __init__(self, emb):
        super().__init__()
        self.embed_tokens = emb

    def forward(self, input_ids):
        return self.embed_tokens(input_ids)


def export_diffusion(pack: str, c: dict, fp16: bool) -> None:
    B = {0: "batch_size"}
    vae_in = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    export_onnx(c["vae"], (vae_in,), f"{pack}/vae_encoder/model.onnx", ["sample"], ["latent_sample"],
                {"sample": {0: "batch_size", 2: "height", 3: "width"},
                 "latent_sample": {0: "batch_size", 2: "height_latent", 3: "width_latent"}})
    ids_dtype = torch.int64 if fp16 else torch.int32
    ids = torch.tensor([[0, 5, 6, 1] + [1] * (TEXT_MAX_LENGTH - 4)] * 2, dtype=ids_dtype)
    export_onnx(c["text"], (ids,), f"{pack}/text_encoder/model.onnx", ["input_ids"],
                ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch_size", 1: "sequence_length"},
                 "last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": B})
    os.makedirs(f"{pack}/tokenizer", exist_ok=True)
    write_json(f"{pack}/tokenizer/tokenizer.json", c["text_tok"])
    write_json(f"{pack}/tokenizer/tokenizer_config.json", text_tokenizer_config(TEXT_MAX_LENGTH))
    os.makedirs(f"{pack}/scheduler", exist_ok=True)
    write_scheduler_config(f"{pack}/scheduler/scheduler_config.json", ScheduleConfig())
    lat = IMAGE_SIZE // c["vae_cfg"].downsample_factor
    D = c["text_cfg"].hidden_size
    # Static shapes [2,4,h,w], [1], [2,L,D]: dynamic axes triple the graph proto
    # (thousands of Shape/Gather/Concat nodes) and the fixtures must stay small.
    # The engine always runs the UNet with batch 2 = [uncond, cond].
    axes = None
    names = (["sample", "timestep", "encoder_hidden_states"], ["out_sample"])
    if fp16:
        args = (torch.zeros(2, 4, lat, lat, dtype=torch.float16), torch.tensor([50.0], dtype=torch.float16),
                torch.zeros(2, TEXT_MAX_LENGTH, D, dtype=torch.float16))
        export_onnx(fp16_unet_from(c["unet"]), args, f"{pack}/unet/model.onnx", *names, axes,
                    external_data="model.onnx_data", post=initializers_to_fp16)
    else:
        args = (torch.zeros(2, 4, lat, lat), torch.tensor([50], dtype=torch.int64), torch.zeros(2, TEXT_MAX_LENGTH, D))
        export_onnx(c["unet"], args, f"{pack}/unet/model.onnx", *names, axes, external_data="weights.pb")


def export_clip(pack: str, c: dict) -> None:
    export_onnx(c["clip"], (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),), f"{pack}/clip/vision_model.onnx",
                ["pixel_values"], ["last_hidden_state", "image_embeds"],
                {"pixel_values": {0: "batch_size"}, "last_hidden_state": {0: "batch_size"},
                 "image_embeds": {0: "batch_size"}})
    write_json(f"{pack}/clip/preprocessor_config.json", {
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_processor_type": "CLIPImageProcessor",
        "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "resample": 3, "rescale_factor": 1 / 255,
        "size": {"shortest_edge": IMAGE_SIZE},
    })


def export_llm(pack: str, c: dict) -> None:
    cfg = c["llm_cfg"]
    export_onnx(_Embed(c["llm"].model.embed_tokens), (torch.tensor([[2, 5, 6]]),), f"{pack}/llm/embed_tokens.onnx",
                ["input_ids"], ["inputs_embeds"],
                {"input_ids": {0: "batch_size", 1: "sequence_length"},
                 "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    dec = _Decoder(cfg)
    dec.load_state_dict(c["llm"].state_dict())
    past, s = 2, 3
    past_t = []
    in_names = ["inputs_embeds", "attention_mask", "position_ids"]
    out_names = ["logits"]
    axes = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(cfg.num_hidden_layers):
        for kind in ("key", "value"):
            past_t.append(torch.zeros(1, cfg.num_key_value_heads, past, cfg.head_dim))
            in_names.append(f"past_key_values.{i}.{kind}")
            out_names.append(f"present.{i}.{kind}")
            axes[in_names[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[out_names[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    args = (torch.zeros(1, s, cfg.hidden_size), torch.ones(1, past + s, dtype=torch.int64),
            torch.arange(past, past + s)[None], *past_t)
    export_onnx(dec, args, f"{pack}/llm/decoder_model_merged.onnx", in_names, out_names, axes)
    write_json(f"{pack}/llm/tokenizer.json", c["llm_tok"])
    write_json(f"{pack}/llm/tokenizer_config.json", llm_tokenizer_config())


def export_projectors(pack: str, c: dict) -> None:
    ax = {"features": {0: "batch_size", 1: "num_tokens"}, "embeds": {0: "batch_size", 1: "num_tokens"}}
    export_onnx(c["proj_clip"], (torch.zeros(1, 16, c["proj_clip"].config.in_dim),), f"{pack}/projectors/clip.onnx",
                ["features"], ["embeds"], ax)
    export_onnx(c["proj_diff"], (torch.zeros(1, 16, c["proj_diff"].config.in_dim),),
                f"{pack}/projectors/diffusion.onnx", ["features"], ["embeds"], ax)
    fc = c["proj_fused"].config
    export_onnx(c["proj_fused"], (torch.zeros(1, 16, fc.clip_dim), torch.zeros(1, 16, fc.diffusion_dim)),
                f"{pack}/projectors/fused_xattn.onnx", ["clip_features", "diffusion_features"], ["embeds"],
                {"clip_features": {0: "batch_size", 1: "num_clip_tokens"},
                 "diffusion_features": {0: "batch_size", 1: "num_diffusion_tokens"},
                 "embeds": {0: "batch_size", 1: "num_clip_tokens"}})


# ------------------------------------------------------------------ manifests
MODES = {
    "clip": {"label": "CLIP", "description": "CLIP penultimate patch tokens only", "inputs": ["clip"],
             "fusion": "none", "projectors": {"clip": "projectors/clip.onnx"}},
    "diffusion": {"label": "Diffusion", "description": "Question-conditioned UNet features only",
                  "inputs": ["diffusion"], "fusion": "none", "projectors": {"diffusion": "projectors/diffusion.onnx"},
                  "diffusion": MODE_DIFFUSION},
    "fused": {"label": "Fused (concat)", "description": "CLIP tokens then diffusion tokens",
              "inputs": ["clip", "diffusion"], "fusion": "concat",
              "projectors": {"clip": "projectors/clip.onnx", "diffusion": "projectors/diffusion.onnx"},
              "diffusion": MODE_DIFFUSION},
    "fused-xattn": {"label": "Fused (cross-attention)", "description": "CLIP tokens attend over diffusion tokens",
                    "inputs": ["clip", "diffusion"], "fusion": "cross-attention",
                    "projectors": {"xattn": "projectors/fused_xattn.onnx"}, "diffusion": MODE_DIFFUSION,
                    "extra": True},
}


def ref(pack: str, path: str, with_hash: bool) -> dict:
    r = {"path": path}
    if with_hash:
        r["sha256"] = sha256_file(os.path.join(pack, path))
    return r


def write_manifest(pack: str, name: str, c: dict, fp16: bool) -> None:
    h = not fp16
    text_vocab = c["text_tok"]["model"]["vocab"]
    m = {
        "format": "twinlens-pack", "version": 1, "name": name,
        "description": ("Test fixture: random-weight tiny SD2-style pack with float16 UNet I/O (feature extraction only)"
                        if fp16 else "Test fixture: random-weight tiny SD2-style pack (fp32), CLIP, LLM and projectors"),
        "diffusion": {
            "family": "sd2",
            "vaeEncoder": ref(pack, "vae_encoder/model.onnx", h), "vaeOutput": "latent_sample",
            "textEncoder": {**ref(pack, "text_encoder/model.onnx", h), "maxLength": TEXT_MAX_LENGTH,
                            "output": "last_hidden_state"},
            "tokenizer": "tokenizer/tokenizer.json", "padTokenId": text_vocab["<|endoftext|>"],
            "unet": ref(pack, "unet/model.onnx", h), "unetOutput": "out_sample",
            "scheduler": "scheduler/scheduler_config.json", "latentScale": LATENT_SCALE_SD, "imageSize": IMAGE_SIZE,
            "taps": {}, "crossAttention": {"pattern": "attn2/Softmax_output_0$"},
            "defaults": {"t": 50, "guidance": 4, "tap": "U-L1-R1-B0-Cross-Q", "prompt": "question", "seed": 0,
                         "ensemble": 1},
        },
        "clip": {"vision": ref(pack, "clip/vision_model.onnx", h), "preprocessor": "clip/preprocessor_config.json",
                 "layer": "penultimate", "numLayers": c["clip_cfg"].num_hidden_layers, "dropCls": True},
    }
    if not fp16:
        lc = c["llm_cfg"]
        m["llm"] = {"embedTokens": ref(pack, "llm/embed_tokens.onnx", h),
                    "decoder": ref(pack, "llm/decoder_model_merged.onnx", h),
                    "tokenizer": "llm/tokenizer.json", "tokenizerConfig": "llm/tokenizer_config.json",
                    "imageToken": "<image>", "stopTokens": ["</s>"], "numLayers": lc.num_hidden_layers,
                    "numKvHeads": lc.num_key_value_heads, "headDim": lc.head_dim, "maxLength": 256,
                    "dtype": "float32"}
        modes = {}
        for mid, md in MODES.items():
            md = json.loads(json.dumps(md))
            md["projectors"] = {k: ref(pack, p, h) for k, p in md["projectors"].items()}
            modes[mid] = md
        m["modes"] = modes
    write_json(f"{pack}/pack.json", m)


# ------------------------------------------------------------------ goldens
class GoldenWriter:
    def __init__(self, d: str):
        self.d = d
        os.makedirs(d, exist_ok=True)
        self.tensors: Dict[str, dict] = {}

    def save(self, name: str, arr: np.ndarray, desc: str) -> str:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        fn = f"{name}.npy"
        np.save(os.path.join(self.d, fn), arr)
        self.tensors[name] = {"file": fn, "shape": list(arr.shape), "dtype": "float32", "desc": desc}
        return fn


def golden_common(gw: GoldenWriter, pipe: ReferencePipeline, img, unet_onnx, text_tok, fp16: bool) -> dict:
    r = pipe.extract(img, QUESTION, 50, 4.0, 0, GOLDEN_TAPS, 1, [XATTN_LAYER] if not fp16 else [])
    d0 = r["draws"][0]
    gw.save("vae_latent", r["x0"], "VAE posterior mean x latentScale, before noise [1,4,16,16]")
    gw.save("noise", d0["noise"], "eps for draw 0 (mulberry32/Box-Muller, seed 0) [1,4,16,16]")
    gw.save("noisy_latent", d0["noisy"], "x_t at t=50 (same for both batch rows) [1,4,16,16]")
    gw.save("text_hidden", r["text_hidden"], "text encoder last_hidden_state, rows [uncond '', cond prompt] [2,16,32]")
    gw.save("out_sample", d0["out_sample"], "UNet out_sample for the batch-2 call [2,4,16,16]")
    taps = {}
    for a in GOLDEN_TAPS:
        path = SD_TAPS[a]
        t = {"module": path, "onnx_tensor": module_output_tensor(unet_onnx, path),
             "guided": gw.save(f"tap_{a}", r["guided"][a], f"{a} guided f_u + 4 (f_c - f_u), [HW, C]")}
        if a == "U-L1-R1-B0-Cross-Q":
            t["cond"] = gw.save(f"tap_{a}_cond", d0["cond"][a], f"{a} cond row (prompt), [HW, C]")
            t["uncond"] = gw.save(f"tap_{a}_uncond", d0["uncond"][a], f"{a} uncond row (empty prompt), [HW, C]")
        t["shape"] = list(r["guided"][a].shape)
        taps[a] = t
    g = {
        "prompt": QUESTION, "t": 50, "guidance": 4.0, "seed": 0, "ensemble": 1,
        "latent_scale": LATENT_SCALE_SD, "alphas_cumprod_t": float(alphas_cumprod()[50]),
        "prompt_ids": {"uncond": pipe.prompt_ids(""), "cond": pipe.prompt_ids(QUESTION)},
        "unet_input_dtype": "float16" if fp16 else "float32", "timestep_dtype": "float16" if fp16 else "int64",
        "taps": taps,
    }
    if not fp16:
        probs_name = attention_softmax_tensor(unet_onnx, f"{XATTN_LAYER}.transformer_blocks.0.attn2")
        g["cross_attention"] = {
            "layer": XATTN_LAYER, "onnx_tensor": probs_name, "heads": pipe.d.unet.config.heads(2),
            "file": gw.save(f"xattn_{XATTN_LAYER}", d0["xattn"][XATTN_LAYER],
                            "cross-attention map: cond row, mean over heads, [L, HW]"),
            "tokens": [text_tok.id_to_token[i] for i in pipe.prompt_ids(QUESTION)],
        }
    return g


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="test/fixtures/packs")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = os.path.abspath(args.out)
    fixtures = os.path.dirname(out)
    repo = os.path.dirname(os.path.dirname(fixtures))
    img_dir = os.path.join(fixtures, "images")
    os.makedirs(img_dir, exist_ok=True)
    sample = draw_scene(IMAGE_SIZE)
    save_png(os.path.join(img_dir, "sample.png"), sample)
    save_png(os.path.join(img_dir, "sample-b.png"), draw_scene(IMAGE_SIZE, circle_colour=GREEN, square_colour=BLUE))

    ng = {}
    for s in (0, 42):
        rng = noise.Mulberry32(s)
        ng[f"seed{s}_uint32"] = [rng.next_uint32() for _ in range(4)]
        ng[f"seed{s}"] = [float(v) for v in noise.gaussian_float64(8, s)]
    write_json(os.path.join(fixtures, "noise-golden.json"), ng)

    c = build_models(sample)
    text_tok = ReferenceTokenizer(c["text_tok"])
    llm_tok = ReferenceTokenizer(c["llm_tok"])
    import onnx

    for name, fp16 in (("tiny", False), ("tiny-fp16", True)):
        pack = os.path.join(out, name)
        if os.path.isdir(pack):
            shutil.rmtree(pack)
        os.makedirs(pack)
        export_diffusion(pack, c, fp16)
        export_clip(pack, c)
        if not fp16:
            export_llm(pack, c)
            export_projectors(pack, c)
        write_manifest(pack, name, c, fp16)

        unet_onnx = onnx.load(os.path.join(pack, "unet/model.onnx"), load_external_data=False)
        clip_onnx = onnx.load(os.path.join(pack, "clip/vision_model.onnx"))
        dparts = DiffusionParts(c["vae"], c["text"], fp16_unet_from(c["unet"]) if fp16 else c["unet"], text_tok,
                                TEXT_MAX_LENGTH, text_tok.token_to_id("<|endoftext|>"),
                                text_input_dtype=torch.int64 if fp16 else torch.int32, unet_io_fp16=fp16)
        projs = {"projectors/clip.onnx": c["proj_clip"], "projectors/diffusion.onnx": c["proj_diff"],
                 "projectors/fused_xattn.onnx": c["proj_fused"]}
        pipe = ReferencePipeline(dparts, c["clip"], LlmParts(c["llm"], llm_tok), projs)
        gdir = os.path.join(pack, "golden")
        gw = GoldenWriter(gdir)
        g = {"pack": name,
             "image": "test/fixtures/images/sample.png",
             "image_from_golden_dir": os.path.relpath(os.path.join(img_dir, "sample.png"), gdir),
             "paths": "file names are relative to this golden folder; 'image' is relative to the repository root"}
        g.update(golden_common(gw, pipe, sample, unet_onnx, text_tok, fp16))
        clip_layer = f"vision_model.encoder.layers.{c['clip_cfg'].num_hidden_layers - 2}"
        g["clip"] = {"layer": clip_layer, "onnx_tensor": module_output_tensor(clip_onnx, clip_layer),
                     "penultimate": gw.save("clip_penultimate", pipe.clip_features(sample),
                                            "CLIP penultimate layer output, CLS dropped, [P, D]"),
                     "pixel_values": gw.save("clip_pixel_values", pipe.clip_pixels(sample).numpy(),
                                             "CLIP pixel_values [1,3,64,64]")}
        with torch.no_grad():
            last, embeds = c["clip"](pipe.clip_pixels(sample))
        g["clip"]["last_hidden_state"] = gw.save("clip_last_hidden_state", last.numpy(),
                                                 "CLIP vision output last_hidden_state [1,17,32]")
        g["clip"]["image_embeds"] = gw.save("clip_image_embeds", embeds.numpy(), "CLIP vision output image_embeds [1,16]")
        if fp16:
            g["tolerances"] = {"note": "UNet I/O float16; golden computed in float32 torch from float16-rounded "
                                       "inputs and weights; intermediate taps are float32 tensors in this graph",
                               "vae_latent": {"atol": 5e-4, "rtol": 1e-3},
                               "text_hidden": {"atol": 1e-4, "rtol": 1e-4},
                               "taps": {"atol": 5e-3, "rtol": 5e-3},
                               "taps_end_to_end": {"atol": 1e-2, "rtol": 1e-2},
                               "out_sample": {"atol": 1e-2, "rtol": 1e-2},
                               "clip": {"atol": 1e-4, "rtol": 1e-4}}
        else:
            modes = {}
            for mid, md in MODES.items():
                vis = pipe.visual_tokens(md, sample, QUESTION, MODE_DIFFUSION)
                gen = pipe.generate(vis, QUESTION, 8)
                modes[mid] = {"question": QUESTION,
                              "diffusion": MODE_DIFFUSION if "diffusion" in md["inputs"] else None,
                              "visual_embeds": gw.save(f"mode_{mid}_visual_embeds", vis,
                                                       f"projected visual tokens of mode {mid} [N, H]"),
                              "prompt_ids": gen["prompt_ids"], "num_visual_tokens": gen["num_visual_tokens"],
                              "expanded_length": gen["expanded_length"], "generated_ids": gen["ids"],
                              "text": gen["text"], "min_logit_margin": gen["min_margin"]}
            g["modes"] = modes
            g["llm_prompt_text"] = render_chat([{"role": "user", "content": "<image>\n" + QUESTION}])
            g["tolerances"] = {"note": "fp32 ONNX Runtime vs PyTorch. 'taps' = UNet fed the golden noisy_latent and "
                                       "text_hidden; 'taps_end_to_end' = engine computes everything from the PNG",
                               "vae_latent": {"atol": 5e-4, "rtol": 1e-3},
                               "noisy_latent": {"atol": 5e-4, "rtol": 1e-3},
                               "text_hidden": {"atol": 1e-4, "rtol": 1e-4},
                               "taps": {"atol": 1e-4, "rtol": 1e-3},
                               "taps_end_to_end": {"atol": 2e-3, "rtol": 2e-3},
                               "cross_attention": {"atol": 1e-5, "rtol": 1e-4},
                               "out_sample": {"atol": 1e-4, "rtol": 1e-3},
                               "clip": {"atol": 1e-4, "rtol": 1e-4},
                               "visual_embeds": {"atol": 1e-4, "rtol": 1e-3},
                               "generated_ids": "exact"}
        g["tensors"] = gw.tensors
        write_json(os.path.join(gdir, "golden.json"), g)
        print(f"{name}: done", flush=True)


if __name__ == "__main__":
    main()
