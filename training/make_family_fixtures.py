#!/usr/bin/env python3
"""Build the family fixtures: tiny, seeded copies of the public ONNX exports'
folder layouts, tensor names and dtypes, for the importers' tests.

    .venv/bin/python training/make_family_fixtures.py --out test/fixtures/families

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
Deterministic: every module is seeded. The SD layouts live in family_sd.py, the
BPE tokenizers in family_tokenizers.py, the attention fusion in family_fusion.py.
"""
from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from family_sd import IMAGE_SIZE, TEXT_MAX, UNET_BLOCKS, build_sd, export_sd, half_parts, unet_macs, with_forward  # noqa: E402
from family_tokenizers import (CLIP_EOT, QWEN_CHAT_TEMPLATE, ClipBpeTokenizer, QwenBpeTokenizer,  # noqa: E402
                               render_qwen_chat)
from make_fixtures import GoldenWriter, seeded  # noqa: E402
from twinlens_train.export import export_onnx  # noqa: E402
from twinlens_train.images import draw_scene  # noqa: E402
from twinlens_train.models import (CLIPVisionConfig, CLIPVisionModelWithProjection, LLMConfig,  # noqa: E402
                                   LlamaForCausalLM, MlpProjector, ProjectorConfig, VAEEncoder, VAEEncoderConfig)
from twinlens_train.pipeline import CLIP_MEAN, CLIP_STD, DiffusionParts, ReferencePipeline  # noqa: E402
from twinlens_train.tokenizer import BASE_WORDS, write_json  # noqa: E402

QUESTION = "what colour is the circle"
SEEDS = {"vae": 201, "text1": 202, "unet1": 203, "text2": 204, "unet2": 205, "clip": 206, "llm": 207,
         "llm_vision": 208, "llm_mmproj": 209, "proj_clip": 210, "proj_diff": 211}
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


# ------------------------------------------------------------------ CLIP (transformers.js)
def export_clip_family(folder: str, clip: CLIPVisionModelWithProjection, cfg: CLIPVisionConfig) -> None:
    def fwd(self, pixel_values):
        last, embeds = CLIPVisionModelWithProjection.forward(self, pixel_values)
        return embeds, last

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
