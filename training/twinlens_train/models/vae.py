"""The encoder half of a diffusers AutoencoderKL (encoder.*, quant_conv).

forward(sample [b,3,H,W] in [-1,1]) -> latent mean [b,latent_channels,H/f,W/f]
with f = 2**(len(block_out_channels)-1). It returns the deterministic MEAN of
the posterior; diffusers' ONNX script returns latent_dist.sample() instead.
The caller multiplies by the latent scale (0.18215).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Attention, Downsample2D, ResnetBlock2D


@dataclass
class VAEEncoderConfig:
    in_channels: int = 3
    latent_channels: int = 4
    block_out_channels: Sequence[int] = (16, 32, 32)
    layers_per_block: int = 1
    norm_num_groups: int = 8

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, layers: int, groups: int, add_downsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, None, groups, 1e-6) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch, padding=0)]) if add_downsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
        return x


class UNetMidBlock2D(nn.Module):
    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, None, groups, 1e-6), ResnetBlock2D(ch, ch, None, groups, 1e-6)])
        self.attentions = nn.ModuleList([Attention(ch, 1, ch, bias=True, group_norm_groups=groups, residual_connection=True)])

    def forward(self, x):
        x = self.resnets[0](x)
        return self.resnets[1](self.attentions[0](x))


class Encoder(nn.Module):
    def __init__(self, cfg: VAEEncoderConfig):
        super().__init__()
        boc = list(cfg.block_out_channels)
        self.conv_in = nn.Conv2d(cfg.in_channels, boc[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, ch in enumerate(boc):
            in_ch, out_ch = out_ch, ch
            self.down_blocks.append(DownEncoderBlock2D(in_ch, out_ch, cfg.layers_per_block, cfg.norm_num_groups, i < len(boc) - 1))
        self.mid_block = UNetMidBlock2D(boc[-1], cfg.norm_num_groups)
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, boc[-1], eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[-1], 2 * cfg.latent_channels, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for blk in self.down_blocks:
            x = blk(x)
        x = self.mid_block(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class VAEEncoder(nn.Module):
    def __init__(self, cfg: VAEEncoderConfig = VAEEncoderConfig()):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.quant_conv = nn.Conv2d(2 * cfg.latent_channels, 2 * cfg.latent_channels, 1)

    def moments(self, sample: torch.Tensor) -> torch.Tensor:
        """[b, 2*latent_channels, h, w] = (mean, logvar) of the posterior."""
        return self.quant_conv(self.encoder(sample))

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        return self.moments(sample)[:, : self.config.latent_channels]
