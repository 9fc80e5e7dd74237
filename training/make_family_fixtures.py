#!/usr/bin/env python3
"""Build the family fixtures: tiny, seeded copies of the public ONNX exports'
folder layouts, tensor names and dtypes, for the importers' tests.

    /usr/bin/python3 training/make_family_fixtures.py --out test/fixtures/families

Writes (see REFERENCE.md A1-A3 for the real layouts these copy):
  sd15-diffusers/   diffusers-script layout: model_index.json (OnnxStableDiffusionPipeline), unet/model.onnx +
                    weights.pb (timestep float32 [1]), text_encoder int32 ids, vae_encoder, tokenizer/ vocab.json +
                    merges.txt (CLIP BPE), scheduler/ (PNDMScheduler), feature_extractor/. SD 1.x module layout
                    (conv proj_in/proj_out, cross-attention width = text width).
  sd21-optimum/     Optimum layout: unet/model.onnx + model.onnx_data + config.json (use_linear_projection),
                    timestep int64 scalar [], text_encoder int64 ids, config.json per component, pad token "!".
  sd15-olive-fp16/  Olive-style optimised export of the SD 1.5 fixture model: float16 inputs and outputs everywhere,
                    float16 weights, attention fused into com.microsoft MultiHeadAttention (no attn*/Softmax).
  clip-vit-transformersjs/  onnx/vision_model.onnx (pixel_values -> image_embeds, last_hidden_state),
                    config.json, preprocessor_config.json.
  llava-qwen-transformersjs/  onnx/embed_tokens.onnx, onnx/decoder_model_merged.onnx (+use_cache_branch),
                    onnx/vision_encoder.onnx, byte-level BPE tokenizer.json, tokenizer_config.json (ChatML template),
                    config.json (image_token_index, text_config).
  projectors/       LLaVA mlp2x_gelu projectors from the CLIP fixture and the SD 1.5 tap into the LLM width.
  golden.json + golden/*.npy   tokenizer ids (Python reference tokenizers), feature goldens from PyTorch.
Deterministic: every module is seeded.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from family_fusion import fuse_attention  # noqa: E402
from family_tokenizers import (CLIP_EOT, CLIP_SOT, QWEN_CHAT_TEMPLATE, ClipBpeTokenizer,  # noqa: E402
                               QwenBpeTokenizer, render_qwen_chat)
from make_fixtures import GoldenWriter, seeded  # noqa: E402
from twinlens_train.export import export_onnx, initializers_to_fp16  # noqa: E402
from twinlens_train.images import draw_scene  # noqa: E402
from twinlens_train.models import (CLIPTextConfig, CLIPTextModel, CLIPVisionConfig,  # noqa: E402
                                   CLIPVisionModelWithProjection, LLMConfig, LlamaForCausalLM, MlpProjector,
                                   ProjectorConfig, UNet2DConditionModel, UNetConfig, VAEEncoder, VAEEncoderConfig)
from twinlens_train.models.unet import Transformer2DModel  # noqa: E402
from twinlens_train.pipeline import CLIP_MEAN, CLIP_STD, DiffusionParts, ReferencePipeline  # noqa: E402
from twinlens_train.tokenizer import BASE_WORDS, write_json  # noqa: E402

IMAGE_SIZE = 64
TEXT_MAX = 77
QUESTION = "what colour is the circle"
SEEDS = {"vae": 201, "text1": 202, "unet1": 203, "text2": 204, "unet2": 205, "clip": 206, "llm": 207,
         "llm_vision": 208, "llm_mmproj": 209, "proj_clip": 210, "proj_diff": 211}
UNET_BLOCKS = (8, 8, 16, 16)
GOLDEN_TAPS = ["U-L1-R1-B0-Cross-Q", "U-L2-R2-Res-Out"]
TAP_PATHS = {"U-L1-R1-B0-Cross-Q": "up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q",
             "U-L2-R2-Res-Out": "up_blocks.2.resnets.2"}
TOKENIZER_STRINGS = ["what colour is the circle", "A red  square, LEFT of 2 circles!", "is it bigger than the grey one?",
                     "describe the picture's background", "zebra"]
LLM_STRINGS = ["<|im_start|>user\n<image>\nwhat colour is the circle?<|im_end|>\n", "Two small squares, 3 circles.",
               "hello world"]
LLM_SENTENCES = ["what colour is the circle?", "the circle is red.", "the square is blue.", "yes", "no",
                 "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n", "user assistant system",
                 "You are a helpful assistant. one two three small large left right", "what is this?"]


# ------------------------------------------------------------------ SD 1.x module layout
class ConvProjTransformer2DModel(Transformer2DModel):
    """SD 1.x Transformer2DModel: 1x1 conv proj_in / proj_out (use_linear_projection false)."""

    def forward(self, x, encoder_hidden_states):
        b, c, h, w = x.shape
        residual = x
        x = self.proj_in(self.norm(x))
        inner = x.shape[1]
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, inner)
        for blk in self.transformer_blocks:
            x = blk(x, encoder_hidden_states)
        x = x.reshape(b, h, w, inner).permute(0, 3, 1, 2)
        return self.proj_out(x) + residual


def to_sd1(unet: UNet2DConditionModel) -> UNet2DConditionModel:
    for m in unet.modules():
        if isinstance(m, Transformer2DModel):
            c, inner = m.proj_in.in_features, m.proj_in.out_features
            m.proj_in = nn.Conv2d(c, inner, 1)
            m.proj_out = nn.Conv2d(inner, c, 1)
            m.__class__ = ConvProjTransformer2DModel
    return unet


def half_io(module: nn.Module) -> nn.Module:
    """float16 inputs and outputs around a float32 module, without adding a module
    scope (which would change every tensor name): the instance's class becomes a
    subclass whose forward casts. Float inputs are rounded to float16 first, as
    the engine feeding the ONNX file does."""
    base = module.__class__

    class Half(base):  # type: ignore[misc, valid-type]
        def forward(self, *args):
            out = base.forward(self, *[a.half().float() if a.is_floating_point() else a for a in args])
            if isinstance(out, tuple):
                return tuple(o.half() for o in out)
            return out.half()

    Half.__name__ = f"{base.__name__}HalfIO"
    module.__class__ = Half
    return module


def round_weights_fp16(module: nn.Module) -> nn.Module:
    """Round the weights that initializers_to_fp16 stores as float16 (>= 16 values)."""
    with torch.no_grad():
        for p in list(module.parameters()) + list(module.buffers()):
            if p.is_floating_point() and p.numel() >= 16:
                p.copy_(p.half().float())
    return module


def unet_config(cross_dim: int) -> UNetConfig:
    return UNetConfig(block_out_channels=UNET_BLOCKS, cross_attention_dim=cross_dim, num_attention_heads=2,
                      norm_num_groups=4, ff_mult=2)


def diffusers_unet_json(cfg: UNetConfig, sd1: bool, latent: int) -> dict:
    return {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.25.0", "act_fn": "silu",
            "attention_head_dim": cfg.num_attention_heads if sd1 else [cfg.num_attention_heads] * 4,
            "block_out_channels": list(cfg.block_out_channels), "center_input_sample": False,
            "cross_attention_dim": cfg.cross_attention_dim, "down_block_types": list(cfg.down_block_types),
            "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": cfg.in_channels,
            "layers_per_block": cfg.layers_per_block, "mid_block_scale_factor": 1, "norm_eps": cfg.norm_eps,
            "norm_num_groups": cfg.norm_num_groups, "out_channels": cfg.out_channels, "sample_size": latent,
            "up_block_types": list(cfg.up_block_types), "use_linear_projection": not sd1,
            "upcast_attention": False}


def scheduler_json() -> dict:
    return {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
            "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
            "trained_betas": None}


def write_clip_tokenizer(folder: str, tok: ClipBpeTokenizer, pad: str) -> None:
    os.makedirs(folder, exist_ok=True)
    write_json(f"{folder}/vocab.json", tok.vocab)
    with open(f"{folder}/merges.txt", "w", encoding="utf-8") as f:
        f.write(tok.merges_txt())
    special = {"bos_token": {"content": CLIP_SOT, "lstrip": False, "normalized": True, "rstrip": False,
                             "single_word": False},
               "eos_token": {"content": CLIP_EOT, "lstrip": False, "normalized": True, "rstrip": False,
                             "single_word": False},
               "pad_token": pad, "unk_token": CLIP_EOT}
    write_json(f"{folder}/special_tokens_map.json", special)
    write_json(f"{folder}/tokenizer_config.json", {
        "add_prefix_space": False, "do_lower_case": True, "errors": "replace", "model_max_length": TEXT_MAX,
        "name_or_path": "openai/clip-vit-large-patch14", "tokenizer_class": "CLIPTokenizer", **special})


def feature_extractor_json() -> dict:
    return {"crop_size": 224, "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True,
            "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": CLIP_MEAN,
            "image_std": CLIP_STD, "resample": 3, "size": 224}


def model_index(onnx_pipeline: bool) -> dict:
    if onnx_pipeline:
        comp = ["diffusers", "OnnxRuntimeModel"]
        return {"_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.6.0",
                "feature_extractor": ["transformers", "CLIPImageProcessor"], "requires_safety_checker": False,
                "safety_checker": [None, None], "scheduler": ["diffusers", "PNDMScheduler"],
                "text_encoder": comp, "tokenizer": ["transformers", "CLIPTokenizer"], "unet": comp,
                "vae_decoder": comp, "vae_encoder": comp}
    return {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.25.0",
            "feature_extractor": ["transformers", "CLIPImageProcessor"], "requires_safety_checker": False,
            "safety_checker": [None, None], "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}


# ------------------------------------------------------------------ SD exports
def export_sd(folder: str, kind: str, parts: dict, tok: ClipBpeTokenizer) -> None:
    """kind: 'diffusers' | 'optimum' | 'olive'."""
    os.makedirs(folder)
    fp16 = kind == "olive"
    vae, text, unet = parts["vae"], parts["text"], parts["unet"]
    post = initializers_to_fp16 if fp16 else None
    lat = IMAGE_SIZE // parts["vae_cfg"].downsample_factor
    D = parts["text_cfg"].hidden_size
    fdt = torch.float16 if fp16 else torch.float32
    export_onnx(vae, (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, dtype=fdt),), f"{folder}/vae_encoder/model.onnx",
                ["sample"], ["latent_sample"],
                {"sample": {0: "batch", 1: "channels", 2: "height", 3: "width"},
                 "latent_sample": {0: "batch", 2: "height_latent", 3: "width_latent"}}, post=post)
    ids_dtype = torch.int64 if kind == "optimum" else torch.int32
    ids = torch.full((1, TEXT_MAX), tok.token_to_id(CLIP_EOT), dtype=ids_dtype)
    export_onnx(text, (ids,), f"{folder}/text_encoder/model.onnx", ["input_ids"],
                ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch", 1: "sequence"}, "last_hidden_state": {0: "batch", 1: "sequence"},
                 "pooler_output": {0: "batch"}}, post=post)
    # Static UNet shapes keep the graph small (see make_fixtures.py); real exports use dynamic axes.
    if kind == "optimum":
        timestep = torch.tensor(50, dtype=torch.int64)  # scalar [] int64 (an Optimum variant)
    elif kind == "olive":
        timestep = torch.tensor([50.0], dtype=torch.float16)
    else:
        timestep = torch.tensor([50.0], dtype=torch.float32)  # current diffusers script: float32
    args = (torch.zeros(2, 4, lat, lat, dtype=fdt), timestep, torch.zeros(2, TEXT_MAX, D, dtype=fdt))
    names = (["sample", "timestep", "encoder_hidden_states"], ["out_sample"])
    if kind == "olive":
        heads = {_scope(n): m.heads for n, m in unet.named_modules() if n.endswith(("attn1", "attn2"))}

        def post_unet(model):
            return fuse_attention(initializers_to_fp16(model), heads)

        export_onnx(unet, args, f"{folder}/unet/model.onnx", *names, None, external_data="weights.pb",
                    post=post_unet)
    else:
        data = "model.onnx_data" if kind == "optimum" else "weights.pb"
        export_onnx(unet, args, f"{folder}/unet/model.onnx", *names, None, external_data=data)
    os.makedirs(f"{folder}/scheduler")
    write_json(f"{folder}/scheduler/scheduler_config.json", scheduler_json())
    write_clip_tokenizer(f"{folder}/tokenizer", tok, "!" if kind == "optimum" else CLIP_EOT)
    os.makedirs(f"{folder}/feature_extractor")
    write_json(f"{folder}/feature_extractor/preprocessor_config.json", feature_extractor_json())
    write_json(f"{folder}/model_index.json", model_index(kind != "optimum"))
    if kind == "optimum":
        write_json(f"{folder}/unet/config.json", diffusers_unet_json(parts["unet_cfg"], False, lat))
        tc = parts["text_cfg"]
        write_json(f"{folder}/text_encoder/config.json", {
            "architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_size": tc.hidden_size,
            "intermediate_size": tc.intermediate_size, "num_hidden_layers": tc.num_hidden_layers,
            "num_attention_heads": tc.num_attention_heads, "max_position_embeddings": TEXT_MAX,
            "vocab_size": tc.vocab_size, "hidden_act": "quick_gelu", "projection_dim": tc.hidden_size})
        vc = parts["vae_cfg"]
        write_json(f"{folder}/vae_encoder/config.json", {
            "_class_name": "AutoencoderKL", "block_out_channels": list(vc.block_out_channels),
            "down_block_types": ["DownEncoderBlock2D"] * len(vc.block_out_channels), "in_channels": 3,
            "latent_channels": vc.latent_channels, "layers_per_block": vc.layers_per_block,
            "norm_num_groups": vc.norm_num_groups, "sample_size": IMAGE_SIZE, "scaling_factor": 0.18215})


def _scope(module_path: str) -> str:
    segs = []
    for p in module_path.split("."):
        if p.isdigit() and segs:
            segs[-1] += "." + p
        else:
            segs.append(p)
    return "/" + "/".join(segs)


def build_sd(sd1: bool, seed_text: int, seed_unet: int, vae: nn.Module, vae_cfg, tok: ClipBpeTokenizer,
             text_dim: int) -> dict:
    text_cfg = CLIPTextConfig(vocab_size=len(tok.vocab), hidden_size=text_dim, intermediate_size=2 * text_dim,
                              num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=TEXT_MAX,
                              eos_token_id=tok.token_to_id(CLIP_EOT))
    ucfg = unet_config(text_dim)
    text = seeded(lambda: CLIPTextModel(text_cfg), seed_text)
    unet = seeded(lambda: to_sd1(UNet2DConditionModel(ucfg)) if sd1 else UNet2DConditionModel(ucfg), seed_unet)
    return {"vae": vae, "vae_cfg": vae_cfg, "text": text, "text_cfg": text_cfg, "unet": unet, "unet_cfg": ucfg}


def half_parts(parts: dict) -> dict:
    """The Olive-style fp16 copy of an SD model: float16 weights and float16 I/O."""
    import copy
    out = dict(parts)
    for k in ("vae", "text", "unet"):
        out[k] = half_io(round_weights_fp16(copy.deepcopy(parts[k]))).eval()
    return out


def with_forward(module: nn.Module, fn) -> nn.Module:
    """Same module (same tensor names), different forward."""
    base = module.__class__
    module.__class__ = type(f"{base.__name__}Export", (base,), {"forward": fn})
    return module


# ------------------------------------------------------------------ CLIP (transformers.js)
def export_clip_family(folder: str, clip: CLIPVisionModelWithProjection, cfg: CLIPVisionConfig) -> None:
    def fwd(self, pixel_values):
        last, embeds = CLIPVisionModelWithProjection.forward(self, pixel_values)
        return embeds, last

    import copy
    m = with_forward(copy.deepcopy(clip), fwd)
    export_onnx(m, (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),), f"{folder}/onnx/vision_model.onnx", ["pixel_values"],
                ["image_embeds", "last_hidden_state"],
                {"pixel_values": {0: "batch_size", 1: "num_channels", 2: "height", 3: "width"},
                 "image_embeds": {0: "batch_size"}, "last_hidden_state": {0: "batch_size"}})
    write_json(f"{folder}/preprocessor_config.json", clip_preprocessor())
    write_json(f"{folder}/config.json", {
        "_name_or_path": "openai/clip-vit-base-patch32", "architectures": ["CLIPModel"], "model_type": "clip",
        "projection_dim": cfg.projection_dim, "transformers_version": "4.33.0",
        "text_config": {"model_type": "clip_text_model", "hidden_size": 16, "num_hidden_layers": 1},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": cfg.hidden_size,
                          "image_size": cfg.image_size, "patch_size": cfg.patch_size,
                          "intermediate_size": cfg.intermediate_size, "num_attention_heads": cfg.num_attention_heads,
                          "num_hidden_layers": cfg.num_hidden_layers, "projection_dim": cfg.projection_dim}})


def clip_preprocessor() -> dict:
    return {"crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE}, "do_center_crop": True, "do_convert_rgb": True,
            "do_normalize": True, "do_rescale": True, "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": CLIP_MEAN, "image_processor_type": "CLIPImageProcessor", "image_std": CLIP_STD,
            "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": IMAGE_SIZE}}


# ------------------------------------------------------------------ LLaVA-style LLM (transformers.js)
class LlavaVisionEncoder(nn.Module):
    """transformers.js vision_encoder.onnx: vision tower + multi_modal_projector -> image_features
    (vision_feature_select_strategy "default": the CLS token is dropped, leaving the square patch grid)."""

    def __init__(self, tower: CLIPVisionModelWithProjection, projector: MlpProjector):
        super().__init__()
        self.vision_tower = tower
        self.multi_modal_projector = projector

    def forward(self, pixel_values):
        last, _ = self.vision_tower(pixel_values)
        return self.multi_modal_projector(last[:, 1:])


class EmbedTokens(nn.Module):
    def __init__(self, emb: nn.Embedding):
        super().__init__()
        self.embed_tokens = emb

    def forward(self, input_ids):
        return self.embed_tokens(input_ids)


def merged_decoder_forward(self, inputs_embeds, attention_mask, position_ids, *rest):
    """decoder_model_merged signature: flat past tensors, then use_cache_branch (bool [1])."""
    past, use_cache_branch = rest[:-1], rest[-1]
    pkv = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
    logits, presents = LlamaForCausalLM.forward(self, inputs_embeds, attention_mask, position_ids, pkv)
    # Real merged decoders switch subgraphs on the flag; both branches compute the same values.
    logits = logits + use_cache_branch.to(logits.dtype).sum() * 0.0
    return (logits,) + tuple(t for kv in presents for t in kv)


def export_llava_family(folder: str, llm: LlamaForCausalLM, cfg: LLMConfig, qwen: QwenBpeTokenizer,
                        vision: LlavaVisionEncoder, vcfg: CLIPVisionConfig) -> None:
    import copy
    export_onnx(EmbedTokens(llm.model.embed_tokens), (torch.tensor([[1, 2, 3]]),), f"{folder}/onnx/embed_tokens.onnx",
                ["input_ids"], ["inputs_embeds"],
                {"input_ids": {0: "batch_size", 1: "sequence_length"},
                 "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    dec = with_forward(copy.deepcopy(llm), merged_decoder_forward)
    past, s = 2, 3
    in_names, out_names = ["inputs_embeds", "attention_mask", "position_ids"], ["logits"]
    axes = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    past_t = []
    for i in range(cfg.num_hidden_layers):
        for kind in ("key", "value"):
            past_t.append(torch.zeros(1, cfg.num_key_value_heads, past, cfg.head_dim))
            in_names.append(f"past_key_values.{i}.{kind}")
            out_names.append(f"present.{i}.{kind}")
            axes[in_names[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[out_names[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    in_names.append("use_cache_branch")
    args = (torch.zeros(1, s, cfg.hidden_size), torch.ones(1, past + s, dtype=torch.int64),
            torch.arange(past, past + s)[None], *past_t, torch.tensor([True]))
    export_onnx(dec, args, f"{folder}/onnx/decoder_model_merged.onnx", in_names, out_names, axes)
    export_onnx(vision, (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),), f"{folder}/onnx/vision_encoder.onnx",
                ["pixel_values"], ["image_features"],
                {"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size"}})
    write_json(f"{folder}/tokenizer.json", qwen.tokenizer_json())
    added = {str(qwen.added[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                  "single_word": False, "special": True} for t in qwen.added}
    write_json(f"{folder}/tokenizer_config.json", {
        "add_prefix_space": False, "added_tokens_decoder": added,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
        "chat_template": QWEN_CHAT_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
        "errors": "replace", "model_max_length": 32768, "pad_token": "<|endoftext|>", "padding_side": "left",
        "processor_class": "LlavaProcessor", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None})
    write_json(f"{folder}/special_tokens_map.json", {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>"})
    write_json(f"{folder}/preprocessor_config.json", {**clip_preprocessor(), "image_processor_type": "SiglipImageProcessor",
                                                      "processor_class": "LlavaProcessor"})
    write_json(f"{folder}/generation_config.json", {"bos_token_id": qwen.added["<|endoftext|>"],
                                                    "eos_token_id": qwen.added["<|im_end|>"], "max_new_tokens": 32})
    write_json(f"{folder}/config.json", {
        "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
        "ignore_index": -100, "image_token_index": qwen.added["<image>"], "projector_hidden_act": "gelu",
        "vision_feature_layer": -1, "vision_feature_select_strategy": "default", "tie_word_embeddings": False,
        "text_config": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": cfg.hidden_size,
                        "intermediate_size": cfg.intermediate_size, "num_attention_heads": cfg.num_attention_heads,
                        "num_hidden_layers": cfg.num_hidden_layers, "num_key_value_heads": cfg.num_key_value_heads,
                        "max_position_embeddings": 512, "rms_norm_eps": cfg.rms_norm_eps,
                        "rope_theta": cfg.rope_theta, "vocab_size": cfg.vocab_size, "torch_dtype": "float32"},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": vcfg.hidden_size,
                          "image_size": vcfg.image_size, "patch_size": vcfg.patch_size,
                          "num_hidden_layers": vcfg.num_hidden_layers, "intermediate_size": vcfg.intermediate_size,
                          "num_attention_heads": vcfg.num_attention_heads},
        "transformers.js_config": {"kv_cache_dtype": {"fp32": "float32"}}})


def export_projector(proj: MlpProjector, path: str) -> None:
    export_onnx(proj, (torch.zeros(1, 4, proj.config.in_dim),), path, ["features"], ["embeds"],
                {"features": {0: "batch_size", 1: "num_tokens"}, "embeds": {0: "batch_size", 1: "num_tokens"}})


# ------------------------------------------------------------------ goldens
@torch.no_grad()
def greedy(llm: LlamaForCausalLM, qwen: QwenBpeTokenizer, visual: np.ndarray, question: str, steps: int) -> dict:
    text = render_qwen_chat("<image>\n" + question)
    base = qwen.encode(text).ids
    img = qwen.token_to_id("<image>")
    eos = qwen.token_to_id("<|im_end|>")
    pos = base.index(img)
    n = visual.shape[0]
    ids = base[:pos] + [img] * n + base[pos + 1:]
    emb = llm.embed(torch.tensor([ids]))
    emb[0, pos:pos + n] = torch.from_numpy(visual)
    out, margins = [], []
    for _ in range(steps):
        L = emb.shape[1]
        logits, _ = llm(emb, torch.ones(1, L, dtype=torch.long), torch.arange(L)[None])
        last = logits[0, -1]
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        nxt = int(torch.argmax(last))
        out.append(nxt)
        if nxt == eos:
            break
        emb = torch.cat([emb, llm.embed(torch.tensor([[nxt]]))], dim=1)
    return {"prompt_text": text, "prompt_ids": base, "generated_ids": out, "min_logit_margin": min(margins)}


def sd_golden(gw: GoldenWriter, name: str, parts: dict, tok: ClipBpeTokenizer, pad: str, img, fp16: bool) -> dict:
    dp = DiffusionParts(parts["vae"], parts["text"], parts["unet"], tok, TEXT_MAX, tok.token_to_id(pad),
                        text_input_dtype=torch.int64, unet_io_fp16=fp16)
    pipe = ReferencePipeline(dp)
    r = pipe.extract(img, QUESTION, 50, 4.0, 0, GOLDEN_TAPS, 1, tap_paths=TAP_PATHS)
    taps = {a: {"file": gw.save(f"{name}_tap_{a}", r["guided"][a], f"{name}: {a} guided at s=4, t=50, [HW, C]"),
                "shape": list(r["guided"][a].shape)} for a in GOLDEN_TAPS}
    return {"prompt": QUESTION, "t": 50, "guidance": 4.0, "seed": 0, "taps": taps,
            "prompt_ids": {"uncond": pipe.prompt_ids(""), "cond": pipe.prompt_ids(QUESTION)},
            "vae_latent": gw.save(f"{name}_vae_latent", r["x0"], f"{name}: VAE mean x 0.18215 [1,4,16,16]")}


@torch.no_grad()
def unet_macs(unet: nn.Module, lat: int, text_dim: int) -> int:
    """Multiply-accumulates of one batch-2 UNet pass: Conv2d / Linear from their
    outputs, plus the attention products (torch.matmul), counted by hooks."""
    macs = [0]

    def hook(m, i, o):
        if isinstance(m, nn.Conv2d):
            macs[0] += o.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            macs[0] += o.numel() * m.in_features

    hooks = [m.register_forward_hook(hook) for m in unet.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    orig = torch.matmul

    def counted(a, b):
        r = orig(a, b)
        macs[0] += r.numel() * a.shape[-1]
        return r

    torch.matmul = counted
    try:
        unet(torch.zeros(2, 4, lat, lat), torch.tensor([50.0]), torch.zeros(2, TEXT_MAX, text_dim))
    finally:
        torch.matmul = orig
        for h in hooks:
            h.remove()
    return macs[0]


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="test/fixtures/families")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = os.path.abspath(args.out)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    img = draw_scene(IMAGE_SIZE)
    clip_tok = ClipBpeTokenizer(BASE_WORDS)
    qwen = QwenBpeTokenizer(LLM_SENTENCES + BASE_WORDS)

    vae_cfg = VAEEncoderConfig(block_out_channels=(4, 8, 8), norm_num_groups=4)
    vae = seeded(lambda: VAEEncoder(vae_cfg), SEEDS["vae"])
    sd1 = build_sd(True, SEEDS["text1"], SEEDS["unet1"], vae, vae_cfg, clip_tok, 16)
    sd2 = build_sd(False, SEEDS["text2"], SEEDS["unet2"], vae, vae_cfg, clip_tok, 24)
    olive = half_parts(sd1)
    export_sd(f"{out}/sd15-diffusers", "diffusers", sd1, clip_tok)
    export_sd(f"{out}/sd21-optimum", "optimum", sd2, clip_tok)
    export_sd(f"{out}/sd15-olive-fp16", "olive", olive, clip_tok)

    ccfg = CLIPVisionConfig(image_size=IMAGE_SIZE, patch_size=16, hidden_size=32, intermediate_size=64,
                            num_hidden_layers=3, num_attention_heads=2, projection_dim=16)
    clip = seeded(lambda: CLIPVisionModelWithProjection(ccfg), SEEDS["clip"])
    export_clip_family(f"{out}/clip-vit-transformersjs", clip, ccfg)

    lcfg = LLMConfig(vocab_size=len(qwen.all), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2)
    llm = seeded(lambda: LlamaForCausalLM(lcfg), SEEDS["llm"])
    vcfg = CLIPVisionConfig(image_size=IMAGE_SIZE, patch_size=16, hidden_size=16, intermediate_size=32,
                            num_hidden_layers=1, num_attention_heads=2, projection_dim=8)
    tower = seeded(lambda: CLIPVisionModelWithProjection(vcfg), SEEDS["llm_vision"])
    mmproj = seeded(lambda: MlpProjector(ProjectorConfig(vcfg.hidden_size, lcfg.hidden_size)), SEEDS["llm_mmproj"])
    llava_vision = LlavaVisionEncoder(tower, mmproj).eval()
    export_llava_family(f"{out}/llava-qwen-transformersjs", llm, lcfg, qwen, llava_vision, vcfg)

    tap_dim = UNET_BLOCKS[::-1][1]
    proj_clip = seeded(lambda: MlpProjector(ProjectorConfig(ccfg.hidden_size, lcfg.hidden_size)), SEEDS["proj_clip"])
    proj_diff = seeded(lambda: MlpProjector(ProjectorConfig(tap_dim, lcfg.hidden_size)), SEEDS["proj_diff"])
    os.makedirs(f"{out}/projectors")
    export_projector(proj_clip, f"{out}/projectors/clip.onnx")
    export_projector(proj_diff, f"{out}/projectors/diffusion.onnx")
    write_json(f"{out}/projectors/projectors.json", {
        "format": "twinlens-projectors", "version": 1,
        "description": "Family-fixture projectors: CLIP penultimate (32) and SD 1.5 U-L1-R1-B0-Cross-Q (16) -> LLM (32)",
        "clip": {"file": "clip.onnx", "inDim": ccfg.hidden_size},
        "diffusion": {"file": "diffusion.onnx", "inDim": tap_dim,
                      "settings": {"tap": "U-L1-R1-B0-Cross-Q", "t": 50, "guidance": 4, "prompt": "question"}}})

    gdir = os.path.join(out, "golden")
    gw = GoldenWriter(gdir)
    pipe = ReferencePipeline(None, clip)
    clip_feats = pipe.clip_features(img)
    with torch.no_grad():
        visual = proj_clip(torch.from_numpy(clip_feats)[None])[0].numpy()
        native = llava_vision(pipe.clip_pixels(img))[0].numpy()
    g = {
        "image": "test/fixtures/images/sample.png", "question": QUESTION,
        "clip_tokenizer": {"strings": TOKENIZER_STRINGS,
                           "ids": [clip_tok.encode(s).ids for s in TOKENIZER_STRINGS],
                           "tokens": [clip_tok.encode(s).tokens for s in TOKENIZER_STRINGS],
                           "vocab_size": len(clip_tok.vocab), "eot_id": clip_tok.token_to_id(CLIP_EOT),
                           "pad_ids": {"sd15-diffusers": clip_tok.token_to_id(CLIP_EOT),
                                       "sd21-optimum": clip_tok.token_to_id("!")}},
        "llm_tokenizer": {"strings": LLM_STRINGS, "ids": [qwen.encode(s).ids for s in LLM_STRINGS],
                          "image_token_id": qwen.token_to_id("<image>"), "eos_id": qwen.token_to_id("<|im_end|>")},
        "sd15-diffusers": sd_golden(gw, "sd15-diffusers", sd1, clip_tok, CLIP_EOT, img, False),
        "sd21-optimum": sd_golden(gw, "sd21-optimum", sd2, clip_tok, "!", img, False),
        "unet_macs": {"sd15-diffusers": unet_macs(sd1["unet"], 16, 16), "sd21-optimum": unet_macs(sd2["unet"], 16, 24)},
        "sd15-olive-fp16": sd_golden(gw, "sd15-olive-fp16", olive, clip_tok, CLIP_EOT, img, True),
        "clip": {"penultimate": gw.save("clip_penultimate", clip_feats, "CLIP fixture penultimate layer, CLS dropped [16,32]")},
        "llava": {"clip_mode": {**greedy(llm, qwen, visual, QUESTION, 6),
                                "visual_embeds": gw.save("clip_mode_visual_embeds", visual, "proj_clip(penultimate) [16,32]")},
                  "native_mode": {**greedy(llm, qwen, native, QUESTION, 6),
                                  "visual_embeds": gw.save("native_mode_visual_embeds", native,
                                                           "LLaVA vision_encoder image_features [16,32]")}},
        "tolerances": {"taps": {"atol": 2e-3, "rtol": 2e-3}, "taps_fp16": {"atol": 2e-2, "rtol": 2e-2},
                       "clip": {"atol": 1e-4, "rtol": 1e-4}},
    }
    g["tensors"] = gw.tensors
    write_json(os.path.join(out, "golden.json"), g)
    print(f"family fixtures written to {out}", flush=True)


if __name__ == "__main__":
    main()
