"""Reference pipeline: computes features and answers exactly as the TypeScript
engine must, from the PyTorch modules (not ONNX). Used for goldens and, later,
to extract training features.

Conventions (mirrored in the engine):
* VAE input = byte/127.5 - 1 (float32), latent = posterior mean; x0 = float32(latent * latentScale).
* Noise eps = noise.gaussian(x0.shape, seed, draw) (mulberry32 + Box-Muller); x_t from
  schedule.add_noise (float64 maths, cast to float32).
* Prompt ids: encode with specials, truncate keeping the end token, pad with padTokenId.
* One UNet call, batch 2 = [uncond (""), cond (prompt)], same x_t, timestep shape [1].
* Tap layout [HW, C]: a [b,HW,C] tensor takes row b; [b,C,H,W] is transposed to [H*W, C].
* Guided f = f_u + s * (f_c - f_u) (float32). Ensemble E > 1: mean of guided features over
  draws k = 0..E-1 (noise seed + k).
* Cross-attention map of one attn2 layer: probs [b*heads, HW, L] (batch outer) -> cond row
  (batch 1), mean over heads -> [HW, L] -> transposed [L, HW].
* CLIP pixels = (byte/255 - mean)/std (float32); penultimate = output of encoder layer N-2, CLS dropped.
* LLM prompt = chat template with [{user: "<image>\\n" + question}], add_generation_prompt, encoded
  without specials; <image> expanded to N ids; rows at image positions replaced by visual embeds;
  position_ids 0..n-1, mask ones; greedy argmax until eos or max tokens.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from . import noise as noise_mod
from .schedule import ScheduleConfig, add_noise, alphas_cumprod, LATENT_SCALE_SD
from .tokenizer import ReferenceTokenizer, prompt_ids, render_chat

# Study aliases -> diffusers module paths (family "sd2"; same paths in sd1).
SD_TAPS: Dict[str, str] = {
    "U-L1-R1-B0-Cross-Q": "up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q",
    "D-L2-R0-B0-Cross-Q": "down_blocks.2.attentions.0.transformer_blocks.0.attn2.to_q",
    "U-L1-R1-B0-Out": "up_blocks.1.attentions.1.transformer_blocks.0",
    "U-L1-R2-B0-Cross-Q": "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_q",
    "U-L2-R1-B0-Cross-Q": "up_blocks.2.attentions.1.transformer_blocks.0.attn2.to_q",
    "U-L2-R2-Res-Out": "up_blocks.2.resnets.2",
}



def fold_tokens(x: np.ndarray, k: int, height: Optional[int] = None) -> np.ndarray:
    """[..., H*W, C] tap tokens -> [..., (H/k)*(W/k), k*k*C]: each k x k block of cells becomes one token,
    channels in (dy, dx, c) order, as the engine's diffusionFold does (src/engine/fusion/fold-tokens.ts).
    The grid is square unless `height` is given."""
    if k == 1:
        return x
    *lead, hw, c = x.shape
    h = height or int(round(hw ** 0.5))
    w = hw // h
    assert h * w == hw and h % k == 0 and w % k == 0, (x.shape, k)
    y = x.reshape(*lead, h // k, k, w // k, k, c)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 2, n + 1, n + 3, n + 4)
    return np.ascontiguousarray(y.reshape(*lead, (h // k) * (w // k), k * k * c))


CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def normalise_tap(x: torch.Tensor, row: int) -> np.ndarray:
    """[b,HW,C] -> row; [b,C,H,W] -> [H*W, C]."""
    x = x[row]
    if x.dim() == 3:
        c = x.shape[0]
        x = x.reshape(c, -1).transpose(0, 1)
    return x.detach().float().contiguous().numpy()


@dataclass
class DiffusionParts:
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    unet: torch.nn.Module
    tokenizer: ReferenceTokenizer
    max_length: int
    pad_token_id: int
    latent_scale: float = LATENT_SCALE_SD
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    text_input_dtype: torch.dtype = torch.int32
    # fp16-I/O UNet: round UNet inputs to float16 like the engine feeding it.
    unet_io_fp16: bool = False


@dataclass
class LlmParts:
    llm: torch.nn.Module
    tokenizer: ReferenceTokenizer
    bos_token: str = "<s>"
    eos_token: str = "</s>"
    image_token: str = "<image>"


class ReferencePipeline:
    def __init__(self, diffusion: Optional[DiffusionParts] = None, clip: Optional[torch.nn.Module] = None,
                 llm: Optional[LlmParts] = None, projectors: Optional[Dict[str, torch.nn.Module]] = None):
        self.d = diffusion
        self.clip = clip
        self.l = llm
        self.projectors = projectors or {}
        self.ac = alphas_cumprod(diffusion.schedule) if diffusion else None

    # ------------------------------------------------------------ inputs
    @staticmethod
    def vae_pixels(img: np.ndarray) -> torch.Tensor:
        x = img.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))

    @staticmethod
    def clip_pixels(img: np.ndarray) -> torch.Tensor:
        x = img.astype(np.float32) / np.float32(255.0)
        x = (x - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32)))

    # ------------------------------------------------------------ diffusion
    def prompt_ids(self, text: str) -> List[int]:
        return prompt_ids(self.d.tokenizer, text, self.d.max_length, self.d.pad_token_id)

    @torch.no_grad()
    def encode_prompts(self, texts: Sequence[str]) -> torch.Tensor:
        ids = torch.tensor([self.prompt_ids(t) for t in texts], dtype=self.d.text_input_dtype)
        return self.d.text_encoder(ids)[0]

    @torch.no_grad()
    def latent(self, img: np.ndarray) -> np.ndarray:
        mean = self.d.vae(self.vae_pixels(img))
        return (mean * self.d.latent_scale).numpy().astype(np.float32)

    def noisy_latent(self, x0: np.ndarray, t: int, seed: int, draw: int = 0):
        eps = noise_mod.gaussian(x0.shape, seed, draw)
        return add_noise(x0, eps, t, self.ac), eps

    @torch.no_grad()
    def run_unet(self, x_t: np.ndarray, t: int, ehs: torch.Tensor, module_paths: Sequence[str],
                 xattn_layers: Sequence[str] = ()) -> Dict[str, torch.Tensor]:
        """One batch-2 UNet call; returns module outputs [2,...] and, under key
        'xattn:<path>', the attn2 probabilities of each listed attention layer."""
        unet = self.d.unet
        mods = dict(unet.named_modules())
        out: Dict[str, torch.Tensor] = {}
        hooks = []
        for p in module_paths:
            hooks.append(mods[p].register_forward_hook(lambda m, i, o, p=p: out.__setitem__(p, o.detach().clone())))
        attn_mods = [mods[f"{l}.transformer_blocks.0.attn2"] for l in xattn_layers]
        for a in attn_mods:
            a.capture_probs = True
        sample = torch.from_numpy(np.repeat(x_t, 2, axis=0))
        timestep = torch.tensor([t], dtype=torch.int64)
        enc = ehs
        try:
            if self.d.unet_io_fp16:
                out["out_sample"] = unet(sample.half(), timestep.half(), enc.half())
            else:
                out["out_sample"] = unet(sample, timestep, enc)
        finally:
            for h in hooks:
                h.remove()
            for l, a in zip(xattn_layers, attn_mods):
                a.capture_probs = False
                out[f"xattn:{l}"] = a.last_probs
                a.last_probs = None
        return out

    def extract(self, img: np.ndarray, prompt: str, t: int = 50, guidance: float = 4.0, seed: int = 0,
                taps: Sequence[str] = ("U-L1-R1-B0-Cross-Q",), ensemble: int = 1,
                xattn_layers: Sequence[str] = (), tap_paths: Optional[Dict[str, str]] = None) -> dict:
        tap_paths = tap_paths or SD_TAPS
        paths = [tap_paths[a] for a in taps]
        x0 = self.latent(img)
        ehs = self.encode_prompts(["", prompt])
        res: dict = {"x0": x0, "text_hidden": ehs.numpy(), "draws": []}
        guided_sum: Dict[str, np.ndarray] = {}
        for k in range(ensemble):
            x_t, eps = self.noisy_latent(x0, t, seed, k)
            outs = self.run_unet(x_t, t, ehs, paths, xattn_layers)
            draw = {"noise": eps, "noisy": x_t, "cond": {}, "uncond": {}, "guided": {}, "xattn": {},
                    "out_sample": outs["out_sample"].float().numpy()}
            for a, p in zip(taps, paths):
                fu, fc = normalise_tap(outs[p], 0), normalise_tap(outs[p], 1)
                g = (fu + np.float32(guidance) * (fc - fu)).astype(np.float32)
                draw["uncond"][a], draw["cond"][a], draw["guided"][a] = fu, fc, g
                guided_sum[a] = g if a not in guided_sum else guided_sum[a] + g
            for l in xattn_layers:
                probs = outs[f"xattn:{l}"]
                heads = self.d.unet.get_submodule(f"{l}.transformer_blocks.0.attn2").heads
                bh, hw, L = probs.shape
                m = probs.reshape(bh // heads, heads, hw, L)[1].mean(0)
                draw["xattn"][l] = m.transpose(0, 1).contiguous().numpy()
            res["draws"].append(draw)
        res["guided"] = {a: (v / np.float32(ensemble)).astype(np.float32) for a, v in guided_sum.items()}
        return res

    # ------------------------------------------------------------ clip
    @torch.no_grad()
    def clip_features(self, img: np.ndarray, layer: str = "penultimate", drop_cls: bool = True) -> np.ndarray:
        vm = self.clip.vision_model
        n = len(vm.encoder.layers)
        store = {}
        if layer == "last":
            last, _ = self.clip(self.clip_pixels(img))
            feats = last
        else:
            idx = n - 2 if layer == "penultimate" else int(layer)
            h = vm.encoder.layers[idx].register_forward_hook(lambda m, i, o: store.__setitem__("f", o))
            try:
                self.clip(self.clip_pixels(img))
            finally:
                h.remove()
            feats = store["f"]
        feats = feats[0]
        if drop_cls:
            feats = feats[1:]
        return feats.contiguous().numpy()

    # ------------------------------------------------------------ llm
    @torch.no_grad()
    def visual_tokens(self, mode: dict, img: np.ndarray, question: str, diffusion_settings: dict) -> np.ndarray:
        """Visual embeds [N, H] for a manifest mode dict (inputs, fusion, projector keys)."""
        feats = {}
        if "clip" in mode["inputs"]:
            feats["clip"] = torch.from_numpy(self.clip_features(img))[None]
        if "diffusion" in mode["inputs"]:
            s = diffusion_settings
            prompt = question if s.get("prompt", "question") == "question" else ""
            r = self.extract(img, prompt, s["t"], s["guidance"], s["seed"], [s["tap"]], s.get("ensemble", 1))
            feats["diffusion"] = torch.from_numpy(fold_tokens(r["guided"][s["tap"]], mode.get("diffusionFold", 1)))[None]
        fusion = mode.get("fusion", "none")
        p = self.projectors
        if fusion == "cross-attention":
            proj = mode["projectors"]  # "xattn"; fixtures made before the rename say "fused"
            emb = p[proj.get("xattn", proj.get("fused"))](feats["clip"], feats["diffusion"])
        else:
            parts = [p[mode["projectors"][k]](feats[k]) for k in ("clip", "diffusion") if k in feats]
            emb = torch.cat(parts, dim=1)
        return emb[0].contiguous().numpy()

    def llm_prompt_ids(self, question: str) -> List[int]:
        text = render_chat([{"role": "user", "content": "<image>\n" + question}], self.l.bos_token, True)
        return self.l.tokenizer.encode(text, add_special_tokens=False).ids

    @torch.no_grad()
    def generate(self, visual: np.ndarray, question: str, max_new_tokens: int = 8) -> dict:
        tok = self.l.tokenizer
        img_id = tok.token_to_id(self.l.image_token)
        eos = tok.token_to_id(self.l.eos_token)
        base = self.llm_prompt_ids(question)
        if base.count(img_id) != 1:
            raise ValueError("prompt must contain exactly one image token")
        pos = base.index(img_id)
        n_vis = visual.shape[0]
        ids = base[:pos] + [img_id] * n_vis + base[pos + 1:]
        emb = self.l.llm.embed(torch.tensor([ids]))
        emb[0, pos:pos + n_vis] = torch.from_numpy(visual)
        out_ids, margins = [], []
        for _ in range(max_new_tokens):
            n = emb.shape[1]
            logits, _ = self.l.llm(emb, torch.ones(1, n, dtype=torch.long), torch.arange(n)[None])
            last = logits[0, -1]
            top2 = torch.topk(last, 2).values
            margins.append(float(top2[0] - top2[1]))
            nxt = int(torch.argmax(last))
            out_ids.append(nxt)
            if nxt == eos:
                break
            emb = torch.cat([emb, self.l.llm.embed(torch.tensor([[nxt]]))], dim=1)
        return {"prompt_ids": base, "expanded_length": len(ids), "num_visual_tokens": n_vis, "ids": out_ids,
                "text": tok.decode(out_ids, skip_special_tokens=True), "min_margin": min(margins)}
