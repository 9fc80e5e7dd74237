"""Projectors from visual features to LLM input embeddings (LLaVA mlp2x_gelu) and
the cross-attention fusion projector."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ProjectorConfig:
    in_dim: int
    out_dim: int
    hidden_dim: int = 0  # 0 = out_dim


class MlpProjector(nn.Module):
    """features [b,N,in] -> embeds [b,N,out]: linear_1, GELU (erf), linear_2."""

    def __init__(self, cfg: ProjectorConfig):
        super().__init__()
        hid = cfg.hidden_dim or cfg.out_dim
        self.config = cfg
        self.linear_1 = nn.Linear(cfg.in_dim, hid)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(hid, cfg.out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


@dataclass
class FusedProjectorConfig:
    clip_dim: int
    diffusion_dim: int
    out_dim: int
    heads: int = 2
    hidden_dim: int = 0


class FusedXAttnProjector(nn.Module):
    """CLIP tokens (queries) attend over diffusion tokens (keys/values), residual in
    CLIP space, then the MLP projector: (clip [b,P,Dc], diffusion [b,M,Dd]) -> [b,P,out]."""

    def __init__(self, cfg: FusedProjectorConfig):
        super().__init__()
        self.config = cfg
        self.heads = cfg.heads
        self.norm_q = nn.LayerNorm(cfg.clip_dim)
        self.norm_kv = nn.LayerNorm(cfg.diffusion_dim)
        self.q_proj = nn.Linear(cfg.clip_dim, cfg.clip_dim)
        self.k_proj = nn.Linear(cfg.diffusion_dim, cfg.clip_dim)
        self.v_proj = nn.Linear(cfg.diffusion_dim, cfg.clip_dim)
        self.out_proj = nn.Linear(cfg.clip_dim, cfg.clip_dim)
        self.mlp = MlpProjector(ProjectorConfig(cfg.clip_dim, cfg.out_dim, cfg.hidden_dim))

    def forward(self, clip_features: torch.Tensor, diffusion_features: torch.Tensor) -> torch.Tensor:
        b, p, d = clip_features.shape
        m = diffusion_features.shape[1]
        hd = d // self.heads
        q = self.q_proj(self.norm_q(clip_features)).reshape(b, p, self.heads, hd).transpose(1, 2)
        kv = self.norm_kv(diffusion_features)
        k = self.k_proj(kv).reshape(b, m, self.heads, hd).transpose(1, 2)
        v = self.v_proj(kv).reshape(b, m, self.heads, hd).transpose(1, 2)
        probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * hd ** -0.5, dim=-1)
        att = torch.matmul(probs, v).transpose(1, 2).reshape(b, p, d)
        return self.mlp(clip_features + self.out_proj(att))
