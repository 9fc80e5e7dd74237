"""Mini-world model configurations and training-only helpers (VAE decoder, CLIP text
projection, batched feature extraction that stops the UNet at the tap)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import noise as noise_mod
from .models import (CLIPTextConfig, CLIPTextModel, CLIPVisionConfig, CLIPVisionModelWithProjection,
                     FusedProjectorConfig, FusedXAttnProjector, LLMConfig, LlamaForCausalLM, MlpProjector,
                     ProjectorConfig, UNet2DConditionModel, UNetConfig, VAEEncoder, VAEEncoderConfig)
from .models.layers import ResnetBlock2D, Upsample2D
from .pipeline import CLIP_MEAN, CLIP_STD, SD_TAPS, fold_tokens
from .schedule import add_noise, alphas_cumprod
from .tokenizer import ReferenceTokenizer, build_tokenizer_json, LLM_SPECIALS, TEXT_SPECIALS
from .world import WORDS

IMAGE_SIZE = 64
TEXT_MAX_LENGTH = 16
TAP = "U-L1-R1-B0-Cross-Q"
TAP_PATH = SD_TAPS[TAP]
T_FEAT = 50
GUIDANCE = 4.0


def text_tok_json() -> dict:
    return build_tokenizer_json(WORDS, TEXT_SPECIALS, "<|endoftext|>", template=(TEXT_SPECIALS[0], TEXT_SPECIALS[1]))


def llm_tok_json() -> dict:
    return build_tokenizer_json(WORDS, LLM_SPECIALS, "<unk>")


def configs(text_vocab: int, llm_vocab: int, eos_id: int, quick: bool = False) -> dict:
    return {
        "text": CLIPTextConfig(vocab_size=text_vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                               num_attention_heads=4, max_position_embeddings=TEXT_MAX_LENGTH, eos_token_id=eos_id),
        "vision": CLIPVisionConfig(image_size=IMAGE_SIZE, patch_size=8, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=4, num_attention_heads=4, projection_dim=64),
        "vae": VAEEncoderConfig(block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8),
        # Cross-attention only at the 8x8 level (down_blocks.2, up_blocks.1) and the mid block: the
        # 16x16/32x32 attention cost more than the whole CPU budget. Tap U-L2-R1-B0-Cross-Q is absent.
        "unet": UNetConfig(block_out_channels=(8, 32, 64, 64),
                           down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
                           layers_per_block=2, cross_attention_dim=64, num_attention_heads=(2, 2, 4, 4),
                           norm_num_groups=8, ff_mult=2),
        "llm": LLMConfig(vocab_size=llm_vocab, hidden_size=96, intermediate_size=192, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2),
    }


class VAEDecoder(nn.Module):
    """Training-only decoder (not exported): latent [b,4,32,32] -> image [b,3,64,64]."""

    def __init__(self, latent: int = 4, ch: int = 32):
        super().__init__()
        self.conv_in = nn.Conv2d(latent, ch, 3, padding=1)
        self.res1 = ResnetBlock2D(ch, ch, None, 8, 1e-6)
        self.up = Upsample2D(ch)
        self.res2 = ResnetBlock2D(ch, ch // 2, None, 8, 1e-6)
        self.norm = nn.GroupNorm(8, ch // 2)
        self.conv_out = nn.Conv2d(ch // 2, 3, 3, padding=1)

    def forward(self, z):
        x = self.res2(self.up(self.res1(self.conv_in(z))))
        return self.conv_out(F.silu(self.norm(x)))


def vae_pixels(imgs: np.ndarray) -> torch.Tensor:
    """uint8 [n,64,64,3] -> [n,3,64,64] in [-1,1] (float32 exactly as pipeline.vae_pixels)."""
    x = imgs.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def clip_pixels(imgs: np.ndarray) -> torch.Tensor:
    x = imgs.astype(np.float32) / np.float32(255.0)
    x = (x - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2).astype(np.float32)))


class _Stop(Exception):
    pass


@torch.no_grad()
def clip_penultimate(clip: CLIPVisionModelWithProjection, imgs: np.ndarray, bs: int = 256) -> np.ndarray:
    """Penultimate-layer patch tokens, CLS dropped: [n, P, D] float32."""
    vm = clip.vision_model
    layer = vm.encoder.layers[len(vm.encoder.layers) - 2]
    out = []
    for i in range(0, len(imgs), bs):
        store = {}

        def hook(m, inp, o):
            store["f"] = o
            raise _Stop

        h = layer.register_forward_hook(hook)
        try:
            clip(clip_pixels(imgs[i:i + bs]))
        except _Stop:
            pass
        finally:
            h.remove()
        out.append(store["f"][:, 1:].numpy())
    return np.concatenate(out).astype(np.float32)


class FeatureExtractor:
    """Question-conditioned UNet features exactly as the engine computes them
    (posterior mean x latentScale, mulberry32 noise seed 0 draw 0, x_t at t, tap rows),
    batched over many (image, prompt) rows; the UNet stops at the tap."""

    def __init__(self, vae, text, unet, tok: ReferenceTokenizer, pad_id: int, latent_scale: float,
                 t: int = T_FEAT, tap_path: str = TAP_PATH, fold: int = 1):
        self.vae, self.text, self.unet, self.tok = vae, text, unet, tok
        self.pad_id, self.scale, self.t, self.tap_path = pad_id, latent_scale, t, tap_path
        self.fold = fold  # the modes' diffusionFold: k x k blocks of the tap's cells -> one token
        self.ac = alphas_cumprod()
        self._text_cache: Dict[str, torch.Tensor] = {}

    def prompt_ids(self, text: str) -> List[int]:
        from .tokenizer import prompt_ids
        return prompt_ids(self.tok, text, TEXT_MAX_LENGTH, self.pad_id)

    @torch.no_grad()
    def text_hidden(self, prompts: Sequence[str]) -> torch.Tensor:
        missing = sorted({p for p in prompts if p not in self._text_cache})
        for i in range(0, len(missing), 512):
            chunk = missing[i:i + 512]
            ids = torch.tensor([self.prompt_ids(p) for p in chunk], dtype=torch.int32)
            hs = self.text(ids)[0]
            for p, h in zip(chunk, hs):
                self._text_cache[p] = h
        return torch.stack([self._text_cache[p] for p in prompts])

    @torch.no_grad()
    def latents(self, imgs: np.ndarray, bs: int = 128) -> np.ndarray:
        out = []
        for i in range(0, len(imgs), bs):
            mean = self.vae(vae_pixels(imgs[i:i + bs]))
            out.append((mean * self.scale).numpy().astype(np.float32))
        return np.concatenate(out)

    def noisy(self, x0: np.ndarray) -> np.ndarray:
        eps = noise_mod.gaussian((1,) + x0.shape[1:], 0, 0)
        return add_noise(x0, np.broadcast_to(eps, x0.shape), self.t, self.ac)

    @torch.no_grad()
    def tap(self, x_t: np.ndarray, prompts: Sequence[str], bs: int = 128) -> np.ndarray:
        """x_t [n,4,h,w] float32, prompts (n) -> tap features [n, HW, C] float32."""
        mod = self.unet.get_submodule(self.tap_path)
        out = []
        for i in range(0, len(prompts), bs):
            store = {}

            def hook(m, inp, o):
                store["f"] = o
                raise _Stop

            h = mod.register_forward_hook(hook)
            try:
                self.unet(torch.from_numpy(np.ascontiguousarray(x_t[i:i + bs])), torch.tensor([self.t]),
                          self.text_hidden(prompts[i:i + bs]))
            except _Stop:
                pass
            finally:
                h.remove()
            f = store["f"]
            if f.dim() == 4:
                f = f.flatten(2).transpose(1, 2)
            out.append(fold_tokens(f.float().numpy(), self.fold))
        return np.concatenate(out)


def build_projectors(clip_dim: int, diff_dim: int, hidden: int) -> Dict[str, nn.Module]:
    return {
        "clip": MlpProjector(ProjectorConfig(clip_dim, hidden)),
        "diffusion": MlpProjector(ProjectorConfig(diff_dim, hidden)),
        "fused_xattn": FusedXAttnProjector(FusedProjectorConfig(clip_dim, diff_dim, hidden, heads=4)),
        "leaky": MlpProjector(ProjectorConfig(diff_dim, hidden)),
    }


__all__ = ["configs", "VAEDecoder", "FeatureExtractor", "clip_penultimate", "build_projectors", "text_tok_json",
           "llm_tok_json", "CLIPTextModel", "CLIPVisionModelWithProjection", "VAEEncoder", "UNet2DConditionModel",
           "LlamaForCausalLM"]
