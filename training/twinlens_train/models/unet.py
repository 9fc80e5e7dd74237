"""A diffusers-compatible UNet2DConditionModel (SD2-style linear projections).

Module paths match diffusers (conv_in, time_proj, time_embedding.linear_1/2,
down_blocks.{i}.resnets/attentions/downsamplers.0.conv, mid_block, up_blocks,
conv_norm_out, conv_out), so tap names such as
/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0
are the same as in real exports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Attention, Downsample2D, ResnetBlock2D, Upsample2D


@dataclass
class UNetConfig:
    in_channels: int = 4
    out_channels: int = 4
    block_out_channels: Sequence[int] = (16, 16, 32, 32)
    down_block_types: Sequence[str] = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
    up_block_types: Sequence[str] = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
    layers_per_block: int = 2
    cross_attention_dim: int = 32
    # Number of heads per block (int or one per block); head dim = channels / heads.
    num_attention_heads: Union[int, Sequence[int]] = 2
    norm_num_groups: int = 8
    norm_eps: float = 1e-5
    flip_sin_to_cos: bool = True
    freq_shift: int = 0
    ff_mult: int = 4

    def heads(self, i: int) -> int:
        h = self.num_attention_heads
        return h if isinstance(h, int) else h[i]


def get_timestep_embedding(timesteps: torch.Tensor, dim: int, flip_sin_to_cos: bool, downscale_freq_shift: float,
                           max_period: int = 10000) -> torch.Tensor:
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - downscale_freq_shift)
    emb = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels: int, flip_sin_to_cos: bool, downscale_freq_shift: float):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        return get_timestep_embedding(timesteps, self.num_channels, self.flip_sin_to_cos, self.downscale_freq_shift)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels: int, time_embed_dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        inner = dim * mult
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, cross_attention_dim: int, ff_mult: int = 4):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, dim_head, cross_attention_dim=cross_attention_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff_mult)

    def forward(self, x: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), encoder_hidden_states) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    """GroupNorm, linear proj_in, transformer_blocks, linear proj_out, residual."""

    def __init__(self, heads: int, dim_head: int, in_channels: int, cross_attention_dim: int, groups: int,
                 num_layers: int = 1, ff_mult: int = 4):
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(groups, in_channels, eps=1e-6)
        self.proj_in = nn.Linear(in_channels, inner)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, dim_head, cross_attention_dim, ff_mult) for _ in range(num_layers)])
        self.proj_out = nn.Linear(inner, in_channels)

    def forward(self, x: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        residual = x
        x = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        x = self.proj_in(x)
        for blk in self.transformer_blocks:
            x = blk(x, encoder_hidden_states)
        x = self.proj_out(x).reshape(b, h, w, c).permute(0, 3, 1, 2)
        return x + residual


class CrossAttnDownBlock2D(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, temb: int, layers: int, heads: int, cross_dim: int, groups: int,
                 eps: float, add_downsample: bool, ff_mult: int):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, temb, groups, eps) for i in range(layers)])
        self.attentions = nn.ModuleList(
            [Transformer2DModel(heads, out_ch // heads, out_ch, cross_dim, groups, ff_mult=ff_mult) for _ in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch)]) if add_downsample else None

    def forward(self, x, temb, ehs):
        states = ()
        for resnet, attn in zip(self.resnets, self.attentions):
            x = attn(resnet(x, temb), ehs)
            states += (x,)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states += (x,)
        return x, states


class DownBlock2D(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, temb: int, layers: int, groups: int, eps: float, add_downsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, temb, groups, eps) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch)]) if add_downsample else None

    def forward(self, x, temb, ehs=None):
        states = ()
        for resnet in self.resnets:
            x = resnet(x, temb)
            states += (x,)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states += (x,)
        return x, states


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, ch: int, temb: int, heads: int, cross_dim: int, groups: int, eps: float, ff_mult: int):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, temb, groups, eps), ResnetBlock2D(ch, ch, temb, groups, eps)])
        self.attentions = nn.ModuleList([Transformer2DModel(heads, ch // heads, ch, cross_dim, groups, ff_mult=ff_mult)])

    def forward(self, x, temb, ehs):
        x = self.resnets[0](x, temb)
        for attn, resnet in zip(self.attentions, self.resnets[1:]):
            x = resnet(attn(x, ehs), temb)
        return x


class _UpBase(nn.Module):
    def _resnets(self, in_ch, out_ch, prev_ch, temb, layers, groups, eps):
        mods = []
        for i in range(layers):
            skip = in_ch if i == layers - 1 else out_ch
            r_in = prev_ch if i == 0 else out_ch
            mods.append(ResnetBlock2D(r_in + skip, out_ch, temb, groups, eps))
        return nn.ModuleList(mods)


class CrossAttnUpBlock2D(_UpBase):
    def __init__(self, in_ch, out_ch, prev_ch, temb, layers, heads, cross_dim, groups, eps, add_upsample, ff_mult):
        super().__init__()
        self.resnets = self._resnets(in_ch, out_ch, prev_ch, temb, layers, groups, eps)
        self.attentions = nn.ModuleList(
            [Transformer2DModel(heads, out_ch // heads, out_ch, cross_dim, groups, ff_mult=ff_mult) for _ in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch)]) if add_upsample else None

    def forward(self, x, res, temb, ehs):
        for resnet, attn in zip(self.resnets, self.attentions):
            x = torch.cat([x, res[-1]], dim=1)
            res = res[:-1]
            x = attn(resnet(x, temb), ehs)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class UpBlock2D(_UpBase):
    def __init__(self, in_ch, out_ch, prev_ch, temb, layers, groups, eps, add_upsample):
        super().__init__()
        self.resnets = self._resnets(in_ch, out_ch, prev_ch, temb, layers, groups, eps)
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch)]) if add_upsample else None

    def forward(self, x, res, temb, ehs=None):
        for resnet in self.resnets:
            x = torch.cat([x, res[-1]], dim=1)
            res = res[:-1]
            x = resnet(x, temb)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class UNet2DConditionModel(nn.Module):
    """forward(sample [b,4,h,w], timestep [1] or [b] (int or float), encoder_hidden_states [b,L,D]) -> [b,4,h,w]."""

    def __init__(self, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = cfg
        boc = list(cfg.block_out_channels)
        temb = boc[0] * 4
        g, eps, ff = cfg.norm_num_groups, cfg.norm_eps, cfg.ff_mult
        self.conv_in = nn.Conv2d(cfg.in_channels, boc[0], 3, padding=1)
        self.time_proj = Timesteps(boc[0], cfg.flip_sin_to_cos, cfg.freq_shift)
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(cfg.down_block_types):
            in_ch, out_ch = out_ch, boc[i]
            last = i == len(boc) - 1
            if kind == "CrossAttnDownBlock2D":
                self.down_blocks.append(CrossAttnDownBlock2D(in_ch, out_ch, temb, cfg.layers_per_block, cfg.heads(i),
                                                             cfg.cross_attention_dim, g, eps, not last, ff))
            elif kind == "DownBlock2D":
                self.down_blocks.append(DownBlock2D(in_ch, out_ch, temb, cfg.layers_per_block, g, eps, not last))
            else:
                raise ValueError(kind)
        self.mid_block = UNetMidBlock2DCrossAttn(boc[-1], temb, cfg.heads(len(boc) - 1), cfg.cross_attention_dim, g, eps, ff)
        self.up_blocks = nn.ModuleList()
        rev = boc[::-1]
        out_ch = rev[0]
        for i, kind in enumerate(cfg.up_block_types):
            prev, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, len(boc) - 1)]
            last = i == len(boc) - 1
            heads = cfg.heads(len(boc) - 1 - i)
            if kind == "CrossAttnUpBlock2D":
                self.up_blocks.append(CrossAttnUpBlock2D(in_ch, out_ch, prev, temb, cfg.layers_per_block + 1, heads,
                                                         cfg.cross_attention_dim, g, eps, not last, ff))
            elif kind == "UpBlock2D":
                self.up_blocks.append(UpBlock2D(in_ch, out_ch, prev, temb, cfg.layers_per_block + 1, g, eps, not last))
            else:
                raise ValueError(kind)
        self.conv_norm_out = nn.GroupNorm(g, boc[0], eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], cfg.out_channels, 3, padding=1)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        timesteps = timestep.expand(sample.shape[0])
        emb = self.time_embedding(self.time_proj(timesteps))
        x = self.conv_in(sample)
        res = (x,)
        for blk in self.down_blocks:
            x, states = blk(x, emb, encoder_hidden_states)
            res += states
        x = self.mid_block(x, emb, encoder_hidden_states)
        for blk in self.up_blocks:
            n = len(blk.resnets)
            skip, res = res[-n:], res[:-n]
            x = blk(x, skip, emb, encoder_hidden_states)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))

    def cross_attention_modules(self) -> dict:
        """module path -> attn2 Attention module, for every cross-attention layer."""
        return {n: m for n, m in self.named_modules() if n.endswith(".attn2") and isinstance(m, Attention)}


class UNet2DConditionModelHalfIO(UNet2DConditionModel):
    """Same modules (same tensor names) but float16 inputs and output; computes in
    float32 inside (casts at the top level, so no module prefix is added)."""

    def forward(self, sample, timestep, encoder_hidden_states):
        out = super().forward(sample.float(), timestep.float(), encoder_hidden_states.float())
        return out.half()
