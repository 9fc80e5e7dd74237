"""Tiny random encoders built from the real library classes and exported the way the public repos
are, for the smoke run and tests of the recipe (nothing is downloaded):

- Stable Diffusion: `diffusers` UNet2DConditionModel + AutoencoderKL + `transformers` CLIPTextModel and
  CLIPTokenizer in a StableDiffusionPipeline, exported by `optimum` (`main_export`, task text-to-image):
  the Optimum layout of e.g. onnx-community's SD repos (unet/, text_encoder/, vae_encoder/, tokenizer/,
  scheduler/, model_index.json).
- CLIP vision: `transformers` CLIPVisionModel exported by `optimum` (clip_vision_model, feature-extraction)
  and laid out as transformers.js repos are (onnx/vision_model.onnx, config.json,
  preprocessor_config.json).

    python -m twinlens_train.llava.tiny_encoders --out DIR     # DIR/sd, DIR/clip
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile

import torch

# Letters and the mini-world's words: a character-level CLIP BPE (no merges) that still has whole words
WORDS = ["what", "colour", "is", "the", "circle", "square", "triangle", "red", "green", "blue", "there", "a", "how",
         "many", "describe", "image", "of", "on", "side", "left", "right", "shape", "size", "small", "large"]


def _clip_tokenizer(folder: str):
    from transformers import CLIPTokenizer

    vocab = {}
    for ch in "abcdefghijklmnopqrstuvwxyz":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    for w in WORDS:
        vocab.setdefault(w + "</w>", len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>", "!"):
        vocab[special] = len(vocab)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    # SD 2.x pads with "!" (SD 1.x with the end token); either way the pad id comes from the tokenizer
    return CLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), model_max_length=16,
                         pad_token="!")


def build_tiny_sd(out: str, seed: int = 0) -> str:
    """A random SD pipeline (latent 8x8, image 16 px) exported by optimum to `out`; returns `out`."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from optimum.exporters.onnx import main_export
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        tok = _clip_tokenizer(os.path.join(tmp, "bpe"))
        v = tok.get_vocab()
        text = CLIPTextModel(CLIPTextConfig(vocab_size=len(v), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, max_position_embeddings=16,
                                            bos_token_id=v["<|startoftext|>"], eos_token_id=v["<|endoftext|>"],
                                            pad_token_id=v["!"]))
        # down/up blocks as in SD (cross-attention at the coarse level too), two levels: the study's default
        # tap U-L1-R1-B0-Cross-Q (up_blocks.1.attentions.1) exists
        unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                    block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                    attention_head_dim=8, norm_num_groups=8)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
                            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=8, sample_size=16)
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
                                       scheduler=PNDMScheduler(skip_prk_steps=True), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
        src = os.path.join(tmp, "pipeline")
        pipe.save_pretrained(src)
        shutil.rmtree(out, ignore_errors=True)
        main_export(src, output=out, task="text-to-image", opset=17, no_post_process=True)
    return out


def build_tiny_clip(out: str, seed: int = 1) -> str:
    """A random CLIP ViT (32 px, patch 8, 3 layers) in the transformers.js layout at `out`; returns `out`."""
    from optimum.exporters.onnx import main_export
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        src, exported = os.path.join(tmp, "src"), os.path.join(tmp, "onnx")
        CLIPVisionModel(CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=3, num_attention_heads=4)).save_pretrained(src)
        CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(src)
        main_export(src, output=exported, task="feature-extraction", opset=17, library_name="transformers",
                    no_post_process=True)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(os.path.join(out, "onnx"))
        shutil.copy(os.path.join(exported, "model.onnx"), os.path.join(out, "onnx", "vision_model.onnx"))
        for f in ("config.json", "preprocessor_config.json"):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(build_tiny_sd(os.path.join(a.out, "sd")))
    print(build_tiny_clip(os.path.join(a.out, "clip")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
