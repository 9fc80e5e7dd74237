"""Ground truth for the mini world's bounds: the scenes behind every training
image (in the order stage `data` stored them) and the oracle's scene tokens.

The oracle reader (mini_world/bounds.py) is the same projector + LLM as an answer mode,
fed one token per object with its true attributes and position instead of an
encoder's tokens: what the reader reaches when the encoder loses nothing.
"""
from __future__ import annotations

from typing import List

import numpy as np

from . import world

MAX_OBJECTS = 4  # sample_scene places at most 2 large + 2 small
# shape one-hot (3), colour one-hot (6), size one-hot (2), x and y in [-1, 1], present flag
TOKEN_DIM = len(world.SHAPES) + len(world.COLOUR_NAMES) + len(world.SIZES) + 3


def split_scenes(split: str, n: int, n_pairs: int) -> List[world.Scene]:
    """Scenes of one split in stage `data`'s order: n scenes, then n_pairs pairs (a, b).
    Same seeds and draws as world.build_split / build_pairs, without rendering."""
    out = [world.sample_scene(world.scene_rng(split, i)) for i in range(n)]
    i = found = 0
    while found < n_pairs:
        p = world.make_pair(world.scene_rng(split + "-pairs", i))
        i += 1
        if p is not None:
            out += [p[0], p[1]]
            found += 1
    return out


def data_scenes(cfg: dict) -> List[world.Scene]:
    """Every image of data.npz (train block, then val block) as a Scene."""
    return split_scenes("train", cfg["n_train"], cfg["n_train_pairs"]) + \
        split_scenes("val", cfg["n_val"], cfg["n_val_pairs"])


def object_token(o: world.Obj) -> np.ndarray:
    v = np.zeros(TOKEN_DIM, np.float32)
    v[world.SHAPES.index(o.shape)] = 1
    v[3 + world.COLOUR_NAMES.index(o.colour)] = 1
    v[9 + world.SIZES.index(o.size)] = 1
    v[11] = o.x / world.SIZE * 2 - 1
    v[12] = o.y / world.SIZE * 2 - 1
    v[13] = 1
    return v


def scene_tokens(scenes: List[world.Scene]) -> np.ndarray:
    """[n, MAX_OBJECTS, TOKEN_DIM]: one token per object (in drawing order), zero tokens after."""
    out = np.zeros((len(scenes), MAX_OBJECTS, TOKEN_DIM), np.float32)
    for i, s in enumerate(scenes):
        for j, o in enumerate(s.objects[:MAX_OBJECTS]):
            out[i, j] = object_token(o)
    return out


def object_cells(o: world.Obj, grid: int) -> int:
    """Index of the token (row-major grid x grid over the image) under the object's centre."""
    cell = world.SIZE / grid
    return int(min(grid - 1, o.y // cell)) * grid + int(min(grid - 1, o.x // cell))
