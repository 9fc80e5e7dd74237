"""Trained projectors -> the projectors folder that `twinlens packs import --projectors DIR` reads.

    python -m twinlens_train.llava.export --run RUN [--run RUN2 ...] --out PROJ_DIR [--fp16]

A run is a trainer output folder (`projector.safetensors` + `projector.json`). The folder written
follows the engine's contract (src/engine/importers/projectors-folder.ts, src/engine/fusion/
visual-tokens.ts):

    clip.onnx          features [b,N,D_clip] -> embeds [b,N,H]            modes clip, fused
    diffusion.onnx     features [b,M,D_diff] -> embeds [b,M,H]            modes diffusion, fused
    xattn.onnx         clip_features [b,N,D_clip], diffusion_features [b,M,D_diff] -> embeds [b,N,H]
    projectors.json    {"format": "twinlens-projectors", "version": 1, "clip": {"file", "inDim"},
                        "diffusion": {"file", "inDim", "settings": {tap, t, guidance, prompt, seed}},
                        "xattn": {...}, "runs": [...provenance]}

The training mode `fused` (concatenation) is the engine's `fused` mode, which runs clip.onnx and
diffusion.onnx and concatenates CLIP tokens first, exactly as `LlavaModel.project` does; the mode
`fused-xattn` is one ONNX file with both inputs. Several runs may be exported into one folder (e.g.
a `fused` run and a `fused-xattn` run); two runs that both write the same file are refused, and so
are runs whose features were made with different diffusion settings, because the pack records one
set of settings per projectors folder.

The diffusion settings come from the feature manifest the run was trained on: tap, t, s (guidance)
and the prompt policy ("question" -> the question is the SD prompt; "none" -> the empty prompt,
stage-1 features, guidance irrelevant and recorded as 0).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Dict, List, Optional, Tuple

import torch
from safetensors.torch import load_file
from torch import nn

from ..export import export_onnx, initializers_to_fp16
from .model import build_projectors

FORMAT = "twinlens-projectors"
FILES = {"clip": "clip.onnx", "diffusion": "diffusion.onnx", "xattn": "xattn.onnx"}
DYN = {0: "batch_size", 1: "num_tokens"}


class ExportError(ValueError):
    pass


def read_run(run: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    jpath, wpath = os.path.join(run, "projector.json"), os.path.join(run, "projector.safetensors")
    for p in (jpath, wpath):
        if not os.path.isfile(p):
            raise ExportError(f"{run}: no {os.path.basename(p)} (is this a trainer output folder?)")
    with open(jpath) as f:
        info = json.load(f)
    return info, load_file(wpath)


def _heads(run: str, info: dict, override: Optional[int]) -> int:
    if override:
        return override
    if info.get("xattn_heads"):
        return int(info["xattn_heads"])
    # runs written before projector.json recorded it: the trainer's config is in the checkpoint
    last = os.path.join(run, "checkpoints", "last")
    if os.path.isfile(last):
        ck = os.path.join(run, "checkpoints", open(last).read().strip(), "state.pt")
        if os.path.isfile(ck):
            state = torch.load(ck, map_location="cpu", weights_only=False)
            return int(state.get("config", {}).get("xattn_heads", 2))
    return 2


def diffusion_settings(features: dict) -> dict:
    """Feature-manifest meta -> the engine's DiffusionDefaults (partial)."""
    policy = features.get("prompt_policy", "none")
    prompt = "question" if policy == "question" else "empty"
    out = {"tap": features["tap"], "t": int(features["t"]),
           "guidance": float(features["s"]) if prompt == "question" else 0.0, "prompt": prompt}
    for k in ("seed", "ensemble"):  # ensemble: recorded by `twinlens extract`
        if k in features:
            out[k] = int(features[k])
    return out


def load_projectors(run: str, xattn_heads: Optional[int] = None) -> Tuple[dict, nn.ModuleDict]:
    """The run's projector modules with the trained weights (strict load), in eval mode."""
    info, state = read_run(run)
    clip_dim = (info.get("clip") or [0, 0])[1]
    diff_dim = (info.get("diffusion") or [0, 0])[1]
    heads = _heads(run, info, xattn_heads)
    p = build_projectors(info["mode"], clip_dim, diff_dim, int(info["hidden"]), heads)
    p.load_state_dict(state, strict=True)
    p.eval()
    return info, p


class _XAttn(nn.Module):
    def __init__(self, m: nn.Module):
        super().__init__()
        self.m = m

    def forward(self, clip_features, diffusion_features):
        return self.m(clip_features, diffusion_features)


def _export_one(module: nn.Module, kind: str, path: str, in_dims: List[int], fp16: bool) -> None:
    post = initializers_to_fp16 if fp16 else None
    if kind == "xattn":
        args = (torch.zeros(1, 4, in_dims[0]), torch.zeros(1, 6, in_dims[1]))
        export_onnx(_XAttn(module), args, path, ["clip_features", "diffusion_features"], ["embeds"],
                    {"clip_features": DYN, "diffusion_features": {0: "batch_size", 1: "num_diffusion_tokens"},
                     "embeds": DYN}, post=post)
    else:
        export_onnx(module, (torch.zeros(1, 4, in_dims[0]),), path, ["features"], ["embeds"],
                    {"features": DYN, "embeds": DYN}, post=post)


def export_projectors(runs: List[str], out: str, xattn_heads: Optional[int] = None, fp16: bool = False) -> dict:
    """Write the projector ONNX files of every run + projectors.json; returns the json written."""
    os.makedirs(out, exist_ok=True)
    doc: dict = {"format": FORMAT, "version": 1, "runs": []}
    settings: Optional[dict] = None
    hidden: Optional[int] = None
    for run in runs:
        info, p = load_projectors(run, xattn_heads)
        if hidden is not None and int(info["hidden"]) != hidden:
            raise ExportError(f"{run}: projects into width {info['hidden']}, another run into {hidden}")
        hidden = int(info["hidden"])
        mode = info["mode"]
        kinds = {"clip": ["clip"], "diffusion": ["diffusion"], "fused": ["clip", "diffusion"],
                 "fused-xattn": ["xattn"]}[mode]
        for kind in kinds:
            if kind in doc:
                raise ExportError(f"{run}: a {kind} projector was already exported from {doc[kind]['run']}")
            clip_dim = (info.get("clip") or [0, 0])[1]
            diff_dim = (info.get("diffusion") or [0, 0])[1]
            in_dims = {"clip": [clip_dim], "diffusion": [diff_dim], "xattn": [clip_dim, diff_dim]}[kind]
            module = p[kind]
            _export_one(module, kind, os.path.join(out, FILES[kind]), in_dims, fp16)
            entry = {"file": FILES[kind], "inDim": in_dims[0] if len(in_dims) == 1 else in_dims, "outDim": hidden,
                     "mode": mode, "stage": info.get("stage"), "run": os.path.abspath(run)}
            if kind != "clip":
                s = diffusion_settings(info["features"])
                if settings is not None and s != settings:
                    raise ExportError(f"{run}: features made with {s}, another run's with {settings}; "
                                      "export them into separate folders")
                settings = s
                entry["settings"] = s
            doc[kind] = entry
        doc["runs"].append({"run": os.path.abspath(run), "mode": mode, "stage": info.get("stage"),
                            "steps": info.get("steps"), "final_loss": info.get("final_loss"),
                            "image_tokens": info.get("image_tokens"), "image_token": info.get("image_token"),
                            "p_drop": info.get("p_drop"), "features": info.get("features")})
    doc["hidden"] = hidden
    doc["dtype"] = "float16-weights" if fp16 else "float32"
    with open(os.path.join(out, "projectors.json"), "w") as f:
        json.dump(doc, f, indent=1)
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="export trained projectors as the folder `twinlens packs import "
                                             "--projectors` reads")
    ap.add_argument("--run", action="append", required=True, help="trainer output folder (repeatable)")
    ap.add_argument("--out", required=True, help="projectors folder to write")
    ap.add_argument("--xattn-heads", type=int, default=None, help="fused-xattn heads (default: from the run)")
    ap.add_argument("--fp16", action="store_true", help="store weights as float16 (computes in float32)")
    a = ap.parse_args(argv)
    try:
        doc = export_projectors(a.run, a.out, a.xattn_heads, a.fp16)
    except ExportError as e:
        print(f"error: {e}")
        return 2
    print(json.dumps({k: v["file"] for k, v in doc.items() if isinstance(v, dict) and "file" in v}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
