"""Training samples: tokenised conversation + the row's precomputed features, and the collate
function that pads a micro-batch.

Which diffusion features a sample reads (study §1.5, leakage mitigation):
* stage 1: always `diffusion_uncond` (no prompt in pre-training, so captions cannot be read
  back out of prompt-conditioned features);
* stage 2: `diffusion_cond` (question as prompt, guided at scale s) with probability 1 - p_drop,
  `diffusion_uncond` with p_drop (default 0.3), drawn from a generator seeded by
  (seed, epoch, index), so the choice is the same at any world size and after a resume.
  Rows without a conditioned tensor read the unconditional one.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .data import NO_FEATURES, DataReport, Example
from .model import uses
from .prompt import IGNORE, PromptBuilder
from .sampler import sample_rng
from .shards import FeatureStore


def keep_with_features(examples: List[Example], store: Optional[FeatureStore], report: DataReport) -> List[Example]:
    """Drop image rows the feature shards do not hold (reported as no_features)."""
    out = []
    for ex in examples:
        if ex.image is not None and (store is None or ex.id not in store):
            report.drop(ex, NO_FEATURES, f"row {ex.id!r} is not in the feature shards")
            continue
        out.append(ex)
    return out


class LlavaDataset(torch.utils.data.Dataset):
    """Indexed by (epoch, index) pairs, as the GlobalBatchSampler yields them."""

    def __init__(self, examples: Sequence[Example], store: Optional[FeatureStore], prompts: PromptBuilder, mode: str,
                 stage: int, p_drop: float = 0.3, seed: int = 0):
        self.examples = list(examples)
        self.store = store
        self.prompts = prompts
        self.need_clip, self.need_diff = uses(mode)
        self.stage = stage
        self.p_drop = p_drop
        self.seed = seed

    def __len__(self) -> int:
        return len(self.examples)

    def diffusion_kind(self, epoch: int, index: int) -> str:
        ex = self.examples[index]
        if self.stage == 1 or not self.store.has(ex.id, "diffusion_cond"):
            return "diffusion_uncond"
        drop = sample_rng(self.seed, epoch, index).random() < self.p_drop
        return "diffusion_uncond" if drop else "diffusion_cond"

    def __getitem__(self, key: Tuple[int, int]) -> Dict:
        epoch, index = key
        ex = self.examples[index]
        ids, labels = self.prompts(ex)
        item = {"input_ids": ids, "labels": labels, "clip": None, "diffusion": None, "id": ex.id}
        if ex.image is not None:
            if self.need_clip:
                item["clip"] = self.store.get(ex.id, "clip")
            if self.need_diff:
                item["diffusion"] = self.store.get(ex.id, self.diffusion_kind(epoch, index))
        return item


class Collator:
    """Right-padding (positions of real tokens do not move, so a row's logits do not depend on the
    other rows of its micro-batch) and stacked features of the image rows, in row order (the order
    in which the model fills the image positions)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: List[Dict]) -> Dict:
        n = max(len(x["input_ids"]) for x in items)
        ids = torch.full((len(items), n), self.pad_id, dtype=torch.long)
        labels = torch.full((len(items), n), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(items), n), dtype=torch.long)
        for r, x in enumerate(items):
            k = len(x["input_ids"])
            ids[r, :k] = torch.tensor(x["input_ids"])
            labels[r, :k] = torch.tensor(x["labels"])
            mask[r, :k] = 1
        out = {"input_ids": ids, "attention_mask": mask, "labels": labels, "clip": None, "diffusion": None}
        for kind in ("clip", "diffusion"):
            feats = [x[kind] for x in items if x[kind] is not None]
            if feats:
                out[kind] = torch.stack(feats)
        return out
