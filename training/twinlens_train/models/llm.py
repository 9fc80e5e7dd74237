"""A small LLaMA-style decoder (RMSNorm, rotary positions from position_ids,
grouped-query attention, SwiGLU) with an explicit KV cache, shaped for the
transformers.js decoder_model_merged contract.

forward(inputs_embeds [b,s,H], attention_mask [b,past+s], position_ids [b,s],
        past_key_values: list of (key, value) [b,kvHeads,past,headDim])
  -> logits [b,s,V], presents: list of (key, value) [b,kvHeads,past+s,headDim]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

KV = Tuple[torch.Tensor, torch.Tensor]


@dataclass
class LLMConfig:
    vocab_size: int = 89
    hidden_size: int = 48
    intermediate_size: int = 96
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class RotaryEmbedding(nn.Module):
    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, position_ids):
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)[:, None]  # [b,1,s,d]
        return emb.cos(), emb.sin()


class LlamaAttention(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.h, self.kv, self.d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, self.h * self.d, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, self.kv * self.d, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, self.kv * self.d, bias=False)
        self.o_proj = nn.Linear(self.h * self.d, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask, past: Optional[KV]):
        b, s, _ = x.shape
        q = self.q_proj(x).reshape(b, s, self.h, self.d).transpose(1, 2)
        k = self.k_proj(x).reshape(b, s, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(x).reshape(b, s, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        rep = self.h // self.kv
        t = k.shape[2]
        kk = k[:, :, None].expand(b, self.kv, rep, t, self.d).reshape(b, self.h, t, self.d)
        vv = v[:, :, None].expand(b, self.kv, rep, t, self.d).reshape(b, self.h, t, self.d)
        scores = torch.matmul(q, kk.transpose(-1, -2)) * (self.d ** -0.5) + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, vv).transpose(1, 2).reshape(b, s, self.h * self.d)
        return self.o_proj(out), present


class LlamaMLP(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask, past):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class LlamaModel(nn.Module):
    def __init__(self, cfg: LLMConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(cfg.head_dim, cfg.rope_theta)


def build_attention_bias(attention_mask: torch.Tensor, past_len, s: int, dtype=torch.float32) -> torch.Tensor:
    """Additive mask [b,1,s,past+s]: key j visible to query i iff j <= past+i and mask[j] == 1."""
    total = attention_mask.shape[1]
    q_pos = torch.arange(s)[:, None] + past_len
    k_pos = torch.arange(total)[None, :]
    allowed = (k_pos <= q_pos)[None, None] & (attention_mask[:, None, None, :] > 0)
    return torch.where(allowed, torch.zeros((), dtype=dtype), torch.full((), -1e9, dtype=dtype))


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg: LLMConfig = LLMConfig()):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.embed_tokens(input_ids)

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                position_ids: Optional[torch.Tensor] = None,
                past_key_values: Optional[List[KV]] = None) -> Tuple[torch.Tensor, List[KV]]:
        b, s, _ = inputs_embeds.shape
        past_len = past_key_values[0][0].shape[2] if past_key_values else 0
        if attention_mask is None:
            attention_mask = torch.ones(b, past_len + s, dtype=torch.long)
        if position_ids is None:
            position_ids = (torch.arange(s) + past_len)[None].expand(b, s)
        cos, sin = self.model.rotary_emb(position_ids)
        mask = build_attention_bias(attention_mask, past_len, s, inputs_embeds.dtype)
        x = inputs_embeds
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, pres = layer(x, cos, sin, mask, past_key_values[i] if past_key_values else None)
            presents.append(pres)
        return self.lm_head(self.model.norm(x)), presents
