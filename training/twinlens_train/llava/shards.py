"""Precomputed visual features in safetensors shards with a JSON manifest.

The trainer never runs CLIP or the UNet: one extraction pass (the engine's `features` command,
or any tool that writes this format) stores per-row tokens, and every epoch and every mode reads
them back. Layout of a feature folder:

    manifest.json
        {"version": 1, "tap": "U-L1-R1-B0-Cross-Q", "t": 50, "s": 4.0, "seed": 0,
         "prompt_policy": "question",
         "features": {"clip": [N_tokens, dim], "diffusion": [N_tokens, dim]},
         "shards": [{"file": "shard-00000-of-00002.safetensors", "sha256": "...", "rows": [ids...]}]}
    shard-00000-of-00002.safetensors
        "<row_id>/clip"              [N_clip, D_clip]
        "<row_id>/diffusion_uncond"  [N_diff, D_diff]  empty prompt
        "<row_id>/diffusion_cond"    [N_diff, D_diff]  only when the prompt policy gave the row a
                                                       prompt (guided features at scale s)

Extraction is split with `--shard i/n`: job i takes rows i::n and writes shard i plus a partial
manifest `manifest-0000i-of-0000n.json`; `finalize_manifest` merges the n parts once all exist,
so n machines never write the same file. The reader opens shards lazily (`safe_open` maps the file;
nothing is read until a row is asked for) and checks each file's sha256 and tensor shapes against
the manifest on open, so a truncated copy or a shard from another extraction fails at start with
the file's name instead of training on wrong features.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..export import sha256_file

VERSION = 1
KINDS = ("clip", "diffusion_uncond", "diffusion_cond")
FEATURE_OF_KIND = {"clip": "clip", "diffusion_uncond": "diffusion", "diffusion_cond": "diffusion"}


class ShardError(ValueError):
    """A feature folder that does not match its manifest (names the file)."""


@dataclass
class FeatureMeta:
    """What produced the features; the trainer records it with its outputs."""
    tap: str
    t: int
    s: float
    seed: int
    prompt_policy: str  # e.g. "none" (stage 1: no prompt) or "question" (first question of the row)
    clip_shape: Tuple[int, int]
    diffusion_shape: Tuple[int, int]

    def to_manifest(self) -> dict:
        return {"version": VERSION, "tap": self.tap, "t": self.t, "s": self.s, "seed": self.seed,
                "prompt_policy": self.prompt_policy,
                "features": {"clip": list(self.clip_shape), "diffusion": list(self.diffusion_shape)}}


def parse_shard_spec(spec: str) -> Tuple[int, int]:
    """'i/n' -> (i, n) with 0 <= i < n."""
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard wants i/n (e.g. 0/4), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec}: need 0 <= i < n")
    return i, n


def shard_name(i: int, n: int) -> str:
    return f"shard-{i:05d}-of-{n:05d}.safetensors"


def write_shard(out_dir: str, row_ids: Sequence[str], compute: Callable[[str], Dict[str, torch.Tensor]],
                meta: FeatureMeta, shard: Tuple[int, int] = (0, 1), dtype: Optional[torch.dtype] = None) -> str:
    """Compute and store rows i::n of row_ids; returns the partial manifest's path.

    compute(row_id) returns {"clip": [N,D], "diffusion_uncond": [N,D], optional "diffusion_cond"}.
    dtype (e.g. torch.float16) halves the disk of real extractions; the reader returns float32."""
    i, n = shard
    os.makedirs(out_dir, exist_ok=True)
    mine = list(row_ids)[i::n]
    want = {"clip": tuple(meta.clip_shape), "diffusion": tuple(meta.diffusion_shape)}
    tensors: Dict[str, torch.Tensor] = {}
    for rid in mine:
        if "/" in rid:
            raise ValueError(f"row id {rid!r} contains '/', which separates id and kind in shard keys")
        feats = compute(rid)
        for kind, t in feats.items():
            if kind not in KINDS:
                raise ValueError(f"row {rid}: unknown feature kind {kind!r} (expected {KINDS})")
            if tuple(t.shape) != want[FEATURE_OF_KIND[kind]]:
                raise ValueError(f"row {rid}: {kind} has shape {list(t.shape)}, manifest says "
                                 f"{list(want[FEATURE_OF_KIND[kind]])}")
            t = t.detach().to("cpu")
            tensors[f"{rid}/{kind}"] = (t.to(dtype) if dtype else t).contiguous()
        for kind in ("clip", "diffusion_uncond"):
            if f"{rid}/{kind}" not in tensors:
                raise ValueError(f"row {rid}: {kind} is required")
    name = shard_name(i, n)
    tmp = os.path.join(out_dir, name + ".tmp")
    save_file(tensors, tmp, metadata={"rows": str(len(mine))})
    os.replace(tmp, os.path.join(out_dir, name))  # a killed job never leaves a half file under the real name
    part = dict(meta.to_manifest(), shards=[{"file": name, "sha256": sha256_file(os.path.join(out_dir, name)),
                                             "rows": mine}], of=n)
    ppath = os.path.join(out_dir, f"manifest-{i:05d}-of-{n:05d}.json")
    with open(ppath, "w") as f:
        json.dump(part, f)
    return ppath


def finalize_manifest(out_dir: str) -> str:
    """Merge the partial manifests of all n shards into manifest.json (fails if one is missing or
    the parts disagree on how the features were made)."""
    parts = sorted(glob.glob(os.path.join(out_dir, "manifest-*-of-*.json")))
    if not parts:
        raise ShardError(f"{out_dir}: no partial manifests (manifest-i-of-n.json)")
    loaded = [json.load(open(p)) for p in parts]
    n = loaded[0]["of"]
    have = {p["shards"][0]["file"] for p in loaded if p["of"] == n}
    missing = [shard_name(i, n) for i in range(n) if shard_name(i, n) not in have]
    if missing or len(loaded) != n:
        raise ShardError(f"{out_dir}: cannot finalize, missing shards {missing or '(mixed n)'}")
    head = {k: v for k, v in loaded[0].items() if k not in ("shards", "of")}
    for p, part in zip(parts, loaded):
        other = {k: v for k, v in part.items() if k not in ("shards", "of")}
        if other != head:
            raise ShardError(f"{p}: made with different settings than {parts[0]}")
    head["shards"] = [p["shards"][0] for p in sorted(loaded, key=lambda x: x["shards"][0]["file"])]
    path = os.path.join(out_dir, "manifest.json")
    with open(path, "w") as f:
        json.dump(head, f, indent=1)
    return path


class FeatureStore:
    """Row id -> feature tensors, read lazily from the shards of a feature folder."""

    def __init__(self, folder: str, verify: bool = True):
        self.folder = folder
        mpath = os.path.join(folder, "manifest.json")
        try:
            with open(mpath) as f:
                self.manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise ShardError(f"{mpath}: cannot read the feature manifest ({e})") from None
        if self.manifest.get("version") != VERSION:
            raise ShardError(f"{mpath}: version {self.manifest.get('version')}, this reader knows {VERSION}")
        self.shapes = {k: tuple(v) for k, v in self.manifest["features"].items()}
        self.row_shard: Dict[str, int] = {}
        for si, sh in enumerate(self.manifest["shards"]):
            for rid in sh["rows"]:
                self.row_shard[rid] = si
        self._open: Dict[int, object] = {}
        self._keys: Dict[int, set] = {}
        if verify:
            for si in range(len(self.manifest["shards"])):
                self._handle(si, verify=True)

    @property
    def meta(self) -> dict:
        return {k: v for k, v in self.manifest.items() if k != "shards"}

    def _handle(self, si: int, verify: bool = False):
        if si in self._open:
            return self._open[si]
        sh = self.manifest["shards"][si]
        path = os.path.join(self.folder, sh["file"])
        if not os.path.isfile(path):
            raise ShardError(f"{path}: shard file listed in manifest.json is missing")
        if verify:
            got = sha256_file(path)
            if got != sh["sha256"]:
                raise ShardError(f"{path}: sha256 {got[:16]}... does not match manifest.json "
                                 f"({sh['sha256'][:16]}...); the file is corrupt or from another extraction")
        try:
            h = safe_open(path, framework="pt", device="cpu")
        except Exception as e:  # safetensors raises its own error type for a bad header
            raise ShardError(f"{path}: not a readable safetensors file ({e})") from None
        keys = set(h.keys())
        if verify:
            for rid in sh["rows"]:
                for kind in KINDS:
                    key = f"{rid}/{kind}"
                    if key not in keys:
                        if kind == "diffusion_cond":
                            continue
                        raise ShardError(f"{path}: row {rid} has no {kind} tensor")
                    shape = tuple(h.get_slice(key).get_shape())
                    want = self.shapes[FEATURE_OF_KIND[kind]]
                    if shape != want:
                        raise ShardError(f"{path}: {key} has shape {list(shape)}, manifest.json says {list(want)}")
        self._open[si], self._keys[si] = h, keys
        return h

    def __contains__(self, row_id: str) -> bool:
        return row_id in self.row_shard

    def __len__(self) -> int:
        return len(self.row_shard)

    def rows(self) -> List[str]:
        return list(self.row_shard)

    def has(self, row_id: str, kind: str) -> bool:
        si = self.row_shard.get(row_id)
        if si is None:
            return False
        self._handle(si)
        return f"{row_id}/{kind}" in self._keys[si]

    def get(self, row_id: str, kind: str) -> torch.Tensor:
        """One [N, D] float32 tensor."""
        si = self.row_shard.get(row_id)
        if si is None:
            raise KeyError(f"row {row_id!r} is not in {self.folder}")
        t = self._handle(si).get_tensor(f"{row_id}/{kind}")
        want = self.shapes[FEATURE_OF_KIND[kind]]
        if tuple(t.shape) != want:
            raise ShardError(f"{self.folder}: {row_id}/{kind} has shape {list(t.shape)}, manifest says {list(want)}")
        return t.float()


def write_features(out_dir: str, rows: Iterable[Tuple[str, Dict[str, torch.Tensor]]], meta: FeatureMeta,
                   n_shards: int = 1) -> str:
    """Convenience for tests and small sets: all shards in one process, then the manifest."""
    rows = list(rows)
    table = dict(rows)
    ids = [r for r, _ in rows]
    for i in range(n_shards):
        write_shard(out_dir, ids, table.__getitem__, meta, (i, n_shards))
    return finalize_manifest(out_dir)
