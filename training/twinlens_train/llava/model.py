"""Projectors per answer mode + a transformers causal LM, with visual tokens spliced into
`inputs_embeds` where the expanded `<image>` ids sit.

Modes (the pack's modes, same projector modules as the mini-world pack):
    clip         CLIP tokens -> MlpProjector (LLaVA mlp2x_gelu)                 N_clip tokens
    diffusion    diffusion tokens -> MlpProjector                              N_diff tokens
    fused        concatenation: CLIP and diffusion tokens each through its own
                 MlpProjector, CLIP first                                      N_clip + N_diff
    fused-xattn  FusedXAttnProjector: CLIP queries attend over diffusion       N_clip tokens

The loss is returned as a SUM over answer tokens plus the token count, not a mean: the trainer
divides by the token count of the whole global batch, which is what makes a 2-rank run equal a
1-rank run (a per-rank mean would weight ranks with short answers more).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..models.projectors import FusedProjectorConfig, FusedXAttnProjector, MlpProjector, ProjectorConfig
from .prompt import IGNORE

MODES = ("clip", "diffusion", "fused", "fused-xattn")


def uses(mode: str) -> Tuple[bool, bool]:
    """(needs CLIP features, needs diffusion features)"""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
    return mode != "diffusion", mode != "clip"


def build_projectors(mode: str, clip_dim: int, diffusion_dim: int, hidden: int, heads: int = 2) -> nn.ModuleDict:
    p = nn.ModuleDict()
    if mode in ("clip", "fused"):
        p["clip"] = MlpProjector(ProjectorConfig(clip_dim, hidden))
    if mode in ("diffusion", "fused"):
        p["diffusion"] = MlpProjector(ProjectorConfig(diffusion_dim, hidden))
    if mode == "fused-xattn":
        if clip_dim % heads:
            raise ValueError(f"fused-xattn: CLIP dim {clip_dim} is not divisible by --xattn-heads {heads}")
        p["xattn"] = FusedXAttnProjector(FusedProjectorConfig(clip_dim, diffusion_dim, hidden, heads))
    return p


def image_tokens(mode: str, clip_tokens: int, diffusion_tokens: int) -> int:
    return {"clip": clip_tokens, "diffusion": diffusion_tokens, "fused": clip_tokens + diffusion_tokens,
            "fused-xattn": clip_tokens}[mode]


class LlavaModel(nn.Module):
    def __init__(self, llm: nn.Module, mode: str, image_token_id: int, clip_shape, diffusion_shape, heads: int = 2):
        super().__init__()
        self.mode = mode
        self.image_token_id = image_token_id
        self.clip_shape = tuple(clip_shape)
        self.diffusion_shape = tuple(diffusion_shape)
        self.llm = llm
        self.projectors = build_projectors(mode, self.clip_shape[1], self.diffusion_shape[1],
                                           llm.config.hidden_size, heads)

    @property
    def n_image_tokens(self) -> int:
        return image_tokens(self.mode, self.clip_shape[0], self.diffusion_shape[0])

    def project(self, clip: Optional[torch.Tensor], diffusion: Optional[torch.Tensor]) -> torch.Tensor:
        p = self.projectors
        if self.mode == "clip":
            return p["clip"](clip)
        if self.mode == "diffusion":
            return p["diffusion"](diffusion)
        if self.mode == "fused":
            return torch.cat([p["clip"](clip), p["diffusion"](diffusion)], dim=1)
        return p["xattn"](clip, diffusion)

    def _dummy_visual(self, device, dtype) -> torch.Tensor:
        need_clip, need_diff = uses(self.mode)
        c = torch.zeros((1,) + self.clip_shape, device=device, dtype=dtype) if need_clip else None
        d = torch.zeros((1,) + self.diffusion_shape, device=device, dtype=dtype) if need_diff else None
        return self.project(c, d)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                clip: Optional[torch.Tensor] = None, diffusion: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (sum of token cross-entropies over labelled positions, number of labelled positions)."""
        emb = self.llm.get_input_embeddings()(input_ids)
        is_img = input_ids == self.image_token_id
        n_img = int(is_img.sum())
        if n_img:
            vis = self.project(clip, diffusion).to(emb.dtype)
            if vis.shape[0] * vis.shape[1] != n_img:
                raise ValueError(f"{n_img} image positions in the batch but {vis.shape[0]}x{vis.shape[1]} "
                                 "visual tokens")
            emb = emb.masked_scatter(is_img.unsqueeze(-1), vis.reshape(-1, vis.shape[-1]))
            extra = emb.new_zeros(())
        else:
            # A micro-batch of text-only rows leaves the projector out of the graph; under DDP every
            # rank must produce gradients for the same parameters, so a zero-weighted pass keeps it in.
            extra = self._dummy_visual(emb.device, emb.dtype).sum() * 0.0
        out = self.llm(inputs_embeds=emb, attention_mask=attention_mask, use_cache=False)
        logits = out.logits[:, :-1].float()
        target = labels[:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE,
                               reduction="sum")
        return loss + extra, (target != IGNORE).sum()

    def projector_state(self) -> Dict[str, torch.Tensor]:
        return {k: v.detach().float().cpu().contiguous() for k, v in self.projectors.state_dict().items()}
