"""Linear probes: what each encoder's tokens keep about the scene, before any LLM.

Object-level targets read the one token under the object's centre (colour,
shape, size, and its x position in thirds: whether the token itself knows
where it is, which the LLM needs, since it sees the tokens only in sequence
order). Image-level targets read all tokens (mean-pooled and max-pooled):
how many objects, and whether any small object is present.

Each probe is multinomial logistic regression on standardised features,
full batch, AdamW with weight decay, fixed steps and seed. Fit on training
images, scored on validation images; the majority class of the training
labels is the chance line.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import world
from .oracle import object_cells

OBJECT_TARGETS = ["colour", "shape", "size", "x-third"]
SMALL_TARGETS = ["colour linear", "colour mlp", "shape linear", "shape mlp"]
IMAGE_TARGETS = ["n-objects", "small-present"]


def object_labels(scenes: Sequence[world.Scene], grid: int):
    """(image index, token index, {target: label}) for every object of every scene."""
    rows = []
    for i, s in enumerate(scenes):
        for o in s.objects:
            rows.append((i, object_cells(o, grid), {
                "colour": world.COLOUR_NAMES.index(o.colour), "shape": world.SHAPES.index(o.shape),
                "size": world.SIZES.index(o.size), "x-third": min(2, int(3 * o.x / world.SIZE))}))
    return rows


def image_labels(scenes: Sequence[world.Scene]) -> Dict[str, np.ndarray]:
    return {"n-objects": np.array([len(s.objects) for s in scenes]),
            "small-present": np.array([int(any(o.size == "small" for o in s.objects)) for s in scenes])}


def fit_linear(x_tr: torch.Tensor, y_tr: torch.Tensor, x_va: torch.Tensor, y_va: torch.Tensor,
               steps: int = 300, wd: float = 1e-3, seed: int = 0) -> float:
    """Validation accuracy of a logistic-regression probe."""
    mu, sd = x_tr.mean(0), x_tr.std(0).clamp_min(1e-4)
    x_tr, x_va = (x_tr - mu) / sd, (x_va - mu) / sd
    k = int(max(y_tr.max(), y_va.max())) + 1
    g = torch.Generator().manual_seed(seed)
    w = (torch.randn(x_tr.shape[1], k, generator=g) * 0.01).requires_grad_(True)
    b = torch.zeros(k, requires_grad=True)
    opt = torch.optim.AdamW([w, b], lr=0.05, weight_decay=wd)
    for _ in range(steps):
        loss = F.cross_entropy(x_tr @ w + b, y_tr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(((x_va @ w + b).argmax(1) == y_va).float().mean())


def fit_mlp(x_tr: torch.Tensor, y_tr: torch.Tensor, x_va: torch.Tensor, y_va: torch.Tensor,
            steps: int = 400, hidden: int = 128, seed: int = 0) -> float:
    """Validation accuracy of a one-hidden-layer probe: what a small non-linear reader could get out of a
    token (a small object's shape is not linear in any encoder's token here, even in raw pixels)."""
    mu, sd = x_tr.mean(0), x_tr.std(0).clamp_min(1e-4)
    x_tr, x_va = (x_tr - mu) / sd, (x_va - mu) / sd
    k = int(max(y_tr.max(), y_va.max())) + 1
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x_tr.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, k))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-2)
    for _ in range(steps):
        loss = F.cross_entropy(net(x_tr), y_tr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((net(x_va).argmax(1) == y_va).float().mean())


def probe_small_objects(tokens: np.ndarray, scenes: List[world.Scene], train: np.ndarray, val: np.ndarray,
                        grid: int) -> Dict[str, float]:
    """Colour and shape of the SMALL objects (what the MMVP-style pairs change) from the token under their
    centre, linear and MLP probes."""
    tr_set, va_set = set(train.tolist()), set(val.tolist())
    rows = [r for r in object_labels(scenes, grid) if r[2]["size"] == world.SIZES.index("small")
            and (r[0] in tr_set or r[0] in va_set)]
    is_tr = torch.tensor([r[0] in tr_set for r in rows])
    x = torch.from_numpy(np.stack([tokens[i, c] for i, c, _ in rows]).astype(np.float32))
    out = {}
    for t in ("colour", "shape"):
        y = torch.tensor([r[2][t] for r in rows])
        out[f"{t} linear"] = fit_linear(x[is_tr], y[is_tr], x[~is_tr], y[~is_tr])
        out[f"{t} mlp"] = fit_mlp(x[is_tr], y[is_tr], x[~is_tr], y[~is_tr])
    return out


def majority(y_tr: np.ndarray, y_va: np.ndarray) -> float:
    return float((y_va == np.bincount(y_tr).argmax()).mean())


def probe_tokens(tokens: np.ndarray, scenes: List[world.Scene], train: np.ndarray, val: np.ndarray,
                 grid: int) -> Dict[str, float]:
    """tokens [n, grid*grid, D] for the images `scenes`; train / val: image indices."""
    out: Dict[str, float] = {}
    tr_set = set(train.tolist())
    rows = object_labels(scenes, grid)
    rows = [r for r in rows if r[0] in tr_set or r[0] in set(val.tolist())]
    is_tr = np.array([r[0] in tr_set for r in rows])
    feats = torch.from_numpy(np.stack([tokens[i, c] for i, c, _ in rows]).astype(np.float32))
    for t in OBJECT_TARGETS:
        y = torch.tensor([r[2][t] for r in rows])
        out[t] = fit_linear(feats[is_tr], y[is_tr], feats[~is_tr], y[~is_tr])
    pooled = torch.from_numpy(np.concatenate([tokens.mean(1), tokens.max(1)], axis=1).astype(np.float32))
    labels = image_labels(scenes)
    for t in IMAGE_TARGETS:
        y = torch.from_numpy(labels[t])
        out[t] = fit_linear(pooled[train], y[train], pooled[val], y[val])
    return out


def chance(scenes: List[world.Scene], train: np.ndarray, val: np.ndarray, grid: int) -> Dict[str, float]:
    tr_set = set(train.tolist())
    va_set = set(val.tolist())
    rows = object_labels(scenes, grid)
    out = {}
    for t in OBJECT_TARGETS:
        y_tr = np.array([r[2][t] for r in rows if r[0] in tr_set])
        y_va = np.array([r[2][t] for r in rows if r[0] in va_set])
        out[t] = majority(y_tr, y_va)
    labels = image_labels(scenes)
    for t in IMAGE_TARGETS:
        out[t] = majority(labels[t][train], labels[t][val])
    return out


def pixel_patches(images: np.ndarray, grid: int) -> np.ndarray:
    """uint8 [n, S, S, 3] -> [n, grid*grid, (S/grid)^2 * 3] float32 in [0, 1] (raw-pixel 'tokens')."""
    n, s = images.shape[0], images.shape[1]
    p = s // grid
    x = images.reshape(n, grid, p, grid, p, 3).transpose(0, 1, 3, 2, 4, 5).reshape(n, grid * grid, p * p * 3)
    return x.astype(np.float32) / 255.0
