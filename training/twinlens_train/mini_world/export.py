"""Stages `export` and `eval` of train.py: ONNX files + pack.json (same contracts as the
fixture packs, see twinlens_train/fixtures/make.py), and the Python evaluation (eval_reference.py)."""
from __future__ import annotations

import json
import os
import shutil

import torch

from twinlens_train.export import MergedDecoder, export_embed_tokens, export_onnx, kv_decoder_io, sha256_file
from twinlens_train.mini_world import eval_reference
from twinlens_train.mini_world.recipe import final_checkpoint
from twinlens_train.mw_models import IMAGE_SIZE, T_FEAT, GUIDANCE, TEXT_MAX_LENGTH, build_projectors
from twinlens_train.models import LlamaForCausalLM
from twinlens_train.pipeline import CLIP_MEAN, CLIP_STD
from twinlens_train.schedule import ScheduleConfig, write_scheduler_config
from twinlens_train.tokenizer import llm_tokenizer_config, text_tokenizer_config, write_json

def mode_diffusion(c) -> dict:
    """The diffusion settings every mode's projector was trained with (the recipe's tap)."""
    return {"t": T_FEAT, "guidance": GUIDANCE, "tap": c.cfg["tap"], "prompt": "question", "seed": 0, "ensemble": 1}


MODE_INFO = {
    "clip": ("CLIP", "CLIP ViT penultimate patch tokens (64) -> MLP projector; its own tuned LLM", ["clip"], "none"),
    "diffusion": ("Diffusion", "Question-conditioned UNet tap {tap} (s=4) -> MLP projector; "
                               "trained with 30% prompt dropout", ["diffusion"], "none"),
    "fused": ("Fused (concat)", "64 CLIP tokens then 64 diffusion tokens, one projector each", ["clip", "diffusion"],
              "concat"),
    "fused-xattn": ("Fused (cross-attention)", "CLIP tokens attend over diffusion tokens, then the MLP projector",
                    ["clip", "diffusion"], "cross-attention"),
    "leaky": ("Leaky control (do not use)", "LEAKAGE CONTROL: stage 1 read caption-conditioned features at s=4, "
                                             "stage 2 without prompt dropout. Exists so the leakage probe has "
                                             "something to detect.", ["diffusion"], "none"),
}
MODEL_DIRS = ["vae_encoder", "text_encoder", "unet", "tokenizer", "scheduler", "clip", "llm", "projectors"]
PROJ_AX = {"features": {0: "batch_size", 1: "num_tokens"}, "embeds": {0: "batch_size", 1: "num_tokens"}}


def _proj(m, path, in_dim):
    export_onnx(m, (torch.zeros(1, 64, in_dim),), path, ["features"], ["embeds"], PROJ_AX)


def stage_export(c) -> None:
    pack = c.pack
    os.makedirs(pack, exist_ok=True)
    for d in MODEL_DIRS:
        if os.path.isdir(os.path.join(pack, d)):
            shutil.rmtree(os.path.join(pack, d))
    scale = export_encoders(c, pack)
    _export_modes_and_manifest(c, pack, scale)


def export_encoders(c, pack: str) -> float:
    """The parts every mode shares, trained by stage 1 (VAE, text encoder, UNet, CLIP) and stage `llm`
    (embed_tokens, frozen afterwards), with their tokenizers and configs; returns the latent scale. Separate so
    `compare_packs --work` can check a run's first stages against a pack long before stage 2 ends."""
    vae, scale = c.vae()
    text, vision, unet = c.text(), c.vision(), c.unet()
    # --- diffusion
    export_onnx(vae, (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),), f"{pack}/vae_encoder/model.onnx", ["sample"],
                ["latent_sample"], {"sample": {0: "batch_size", 2: "height", 3: "width"},
                                    "latent_sample": {0: "batch_size", 2: "height_latent", 3: "width_latent"}})
    ids = torch.tensor([c.ttok.encode("a red circle").ids + [c.pad_text] * (TEXT_MAX_LENGTH - 5)] * 2,
                       dtype=torch.int32)
    export_onnx(text, (ids,), f"{pack}/text_encoder/model.onnx", ["input_ids"], ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch_size", 1: "sequence_length"},
                 "last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": {0: "batch_size"}})
    os.makedirs(f"{pack}/tokenizer")
    write_json(f"{pack}/tokenizer/tokenizer.json", c.ttok_json)
    write_json(f"{pack}/tokenizer/tokenizer_config.json", text_tokenizer_config(TEXT_MAX_LENGTH))
    os.makedirs(f"{pack}/scheduler")
    write_scheduler_config(f"{pack}/scheduler/scheduler_config.json", ScheduleConfig())
    lat = IMAGE_SIZE // c.mc["vae"].downsample_factor
    D = c.mc["text"].hidden_size
    b = {0: "batch_size"}
    export_onnx(unet, (torch.zeros(2, 4, lat, lat), torch.tensor([50], dtype=torch.int64),
                       torch.zeros(2, TEXT_MAX_LENGTH, D)), f"{pack}/unet/model.onnx",
                ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                {"sample": b, "encoder_hidden_states": b, "out_sample": b}, external_data="weights.pb")
    # onnx writes external data with mode 600: readable by every user of the machine, as git would check it out
    os.chmod(f"{pack}/unet/weights.pb", 0o644)
    # --- clip
    export_onnx(vision, (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),), f"{pack}/clip/vision_model.onnx",
                ["pixel_values"], ["last_hidden_state", "image_embeds"],
                {"pixel_values": b, "last_hidden_state": b, "image_embeds": b})
    write_json(f"{pack}/clip/preprocessor_config.json", {
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_processor_type": "CLIPImageProcessor",
        "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "resample": 3, "rescale_factor": 1 / 255,
        "size": {"shortest_edge": IMAGE_SIZE}})
    # --- llm: shared embed_tokens (frozen in stage 2), one decoder per mode
    lc = c.mc["llm"]
    base = LlamaForCausalLM(lc)
    base.load_state_dict(torch.load(c.path("llm0.pt"))["llm"])
    export_embed_tokens(base.model.embed_tokens, f"{pack}/llm/embed_tokens.onnx", (2, 5, 6))
    write_json(f"{pack}/llm/tokenizer.json", c.ltok_json)
    write_json(f"{pack}/llm/tokenizer_config.json", llm_tokenizer_config())
    return scale


def _export_modes_and_manifest(c, pack: str, scale: float) -> None:
    """One decoder and its projectors per answer mode (their final checkpoints), then pack.json."""
    lc = c.mc["llm"]
    H = lc.hidden_size
    Dc = c.mc["vision"].hidden_size
    Dd = c.diffusion_dim()
    modes = {}
    for mode in MODE_INFO:
        ck = torch.load(c.path(final_checkpoint(c, mode)))
        dec = MergedDecoder(lc)
        dec.load_state_dict(ck["llm"])
        dec_path = "llm/decoder_model_merged.onnx" if mode == "clip" else f"llm/decoder_{mode}.onnx"
        _export_decoder(dec, lc, f"{pack}/{dec_path}")
        projs = build_projectors(Dc, Dd, H)
        refs = {}
        for k, sd in ck["projectors"].items():
            projs[k].load_state_dict(sd)
            projs[k].eval()
        if mode == "fused-xattn":
            p = "projectors/fused_xattn.onnx"
            export_onnx(projs["fused_xattn"], (torch.zeros(1, 64, Dc), torch.zeros(1, 64, Dd)), f"{pack}/{p}",
                        ["clip_features", "diffusion_features"], ["embeds"],
                        {"clip_features": {0: "batch_size", 1: "num_clip_tokens"},
                         "diffusion_features": {0: "batch_size", 1: "num_diffusion_tokens"},
                         "embeds": {0: "batch_size", 1: "num_clip_tokens"}})
            refs["xattn"] = p
        else:
            for k in ck["projectors"]:
                p = f"projectors/{mode}.onnx" if mode != "fused" else f"projectors/fused_{k}.onnx"
                _proj(projs[k], f"{pack}/{p}", Dc if k == "clip" else Dd)
                refs["diffusion" if k == "leaky" else k] = p
        label, desc, inputs, fusion = MODE_INFO[mode]
        desc = desc.format(tap=c.cfg["tap"] + (f", {c.cfg['fold']}x{c.cfg['fold']} cells folded into one token"
                                               if c.cfg["fold"] > 1 else ""))
        md = {"label": label, "description": desc, "inputs": inputs, "fusion": fusion,
              "projectors": {k: _ref(pack, p) for k, p in refs.items()},
              "llm": {"decoder": _ref(pack, dec_path)}}
        if "diffusion" in inputs:
            md["diffusion"] = mode_diffusion(c)
            if c.cfg["fold"] > 1:
                md["diffusionFold"] = c.cfg["fold"]
        if mode == "leaky":
            md["extra"] = True
        modes[mode] = md
    m = {
        "format": "twinlens-pack", "version": 1, "name": "mini-world",
        "description": ("Built-in pack trained from scratch on a procedural world of shapes (64 px): CLIP ViT, "
                        "VAE + UNet (diffusers names) conditioned on the CLIP text encoder, a word-level LLM, "
                        "projectors per answer mode. See README.md (model card)."),
        "diffusion": {
            "family": "mini-world",
            "vaeEncoder": _ref(pack, "vae_encoder/model.onnx"), "vaeOutput": "latent_sample",
            "textEncoder": {**_ref(pack, "text_encoder/model.onnx"), "maxLength": TEXT_MAX_LENGTH,
                            "output": "last_hidden_state"},
            "tokenizer": "tokenizer/tokenizer.json", "padTokenId": c.pad_text,
            "unet": _ref(pack, "unet/model.onnx"), "unetOutput": "out_sample",
            "scheduler": "scheduler/scheduler_config.json", "latentScale": round(scale, 6), "imageSize": IMAGE_SIZE,
            "taps": {}, "crossAttention": {"pattern": "attn2/Softmax_output_0$"},
            "defaults": mode_diffusion(c),
        },
        "clip": {"vision": _ref(pack, "clip/vision_model.onnx"), "preprocessor": "clip/preprocessor_config.json",
                 "layer": "penultimate", "numLayers": c.mc["vision"].num_hidden_layers, "dropCls": True},
        "llm": {"embedTokens": _ref(pack, "llm/embed_tokens.onnx"),
                "decoder": _ref(pack, "llm/decoder_model_merged.onnx"),
                "tokenizer": "llm/tokenizer.json", "tokenizerConfig": "llm/tokenizer_config.json",
                "imageToken": "<image>",
                "imagePlacement": "after-question" if c.cfg.get("image_last") else "before-question",
                "stopTokens": ["</s>"], "numLayers": lc.num_hidden_layers,
                "numKvHeads": lc.num_key_value_heads, "headDim": lc.head_dim, "maxLength": 256, "dtype": "float32"},
        "modes": modes,
    }
    write_json(f"{pack}/pack.json", m)


def _ref(pack, path):
    return {"path": path, "sha256": sha256_file(os.path.join(pack, path))}


def _export_decoder(dec, cfg, path):
    args, in_names, out_names, axes = kv_decoder_io(cfg)
    export_onnx(dec, args, path, in_names, out_names, axes)


def stage_eval(c) -> None:
    eval_reference.evaluate(c, write=True)
