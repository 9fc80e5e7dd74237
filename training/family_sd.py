"""Stable Diffusion parts of the family fixtures: the SD 1.x module layout
(1x1-conv projections), float16-I/O wrappers that keep every tensor name, the
three published folder layouts (diffusers script, Optimum, Olive-style
optimised fp16 with fused attention), their config files, and a PyTorch MAC
count of one UNet pass for the cost estimator's test.

Why a separate module: make_family_fixtures.py composes all families; this
file holds what is specific to Stable Diffusion exports (REFERENCE.md A1).
"""
from __future__ import annotations

import copy
import os

import torch
from torch import nn

from family_fusion import fuse_attention
from family_tokenizers import CLIP_EOT, CLIP_SOT, ClipBpeTokenizer
from make_fixtures import seeded
from twinlens_train.export import export_onnx, initializers_to_fp16
from twinlens_train.models import CLIPTextConfig, CLIPTextModel, UNet2DConditionModel, UNetConfig
from twinlens_train.models.unet import Transformer2DModel
from twinlens_train.pipeline import CLIP_MEAN, CLIP_STD
from twinlens_train.tokenizer import write_json

IMAGE_SIZE = 64
TEXT_MAX = 77
UNET_BLOCKS = (8, 8, 16, 16)

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
    out = dict(parts)
    for k in ("vae", "text", "unet"):
        out[k] = half_io(round_weights_fp16(copy.deepcopy(parts[k]))).eval()
    return out


def with_forward(module: nn.Module, fn) -> nn.Module:
    """Same module (same tensor names), different forward."""
    base = module.__class__
    module.__class__ = type(f"{base.__name__}Export", (base,), {"forward": fn})
    return module


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
