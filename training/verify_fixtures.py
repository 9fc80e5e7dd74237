#!/usr/bin/env python3
"""Check the fixture packs with onnxruntime-node against the goldens.

    .venv/bin/python training/verify_fixtures.py [--packs test/fixtures/packs]

Builds temporary copies of the UNet and CLIP graphs with the tap tensors added
as graph outputs (the shipped files are never modified), writes the inputs the
Node checker needs, then runs training/scripts/verify_fixtures.cjs, which loads
every ONNX file in onnxruntime-node and compares taps, cross-attention maps,
CLIP features, projector outputs, KV-cache decoding, greedy tokens, tokenizer
ids and the chat template. Also validates pack.json with the zod schema.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from twinlens_train.export import (attention_softmax_tensor, module_output_tensor, tensor_names,  # noqa: E402
                                   with_extra_outputs)
from twinlens_train.images import load_png  # noqa: E402
from twinlens_train.pipeline import SD_TAPS, ReferencePipeline  # noqa: E402
from twinlens_train.tokenizer import ReferenceTokenizer, render_chat  # noqa: E402

TOKENIZER_CASES = ["what colour is the circle", "How many squares are there?", "Is the RED circle left of it, yes?",
                   "unknownword circle", "", "<image>\nwhat colour is the circle",
                   "a b c d e f g h i j k l m n o p q r s t"]


def augment(src_dir: str, model_rel: str, dst_dir: str, names, data_file=None) -> str:
    m = onnx.load(os.path.join(src_dir, model_rel), load_external_data=False)
    out = os.path.join(dst_dir, model_rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    onnx.save_model(with_extra_outputs(m, names), out)
    if data_file:
        shutil.copy(os.path.join(src_dir, os.path.dirname(model_rel), data_file), os.path.dirname(out))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packs", default=os.path.join(REPO, "test/fixtures/packs"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    packs = os.path.abspath(args.packs)
    tmp = tempfile.mkdtemp(prefix="twinlens-verify-")
    plan = {"tmp": tmp, "packs": {}, "tokenizers": {}}
    img = load_png(os.path.join(REPO, "test/fixtures/images/sample.png"))
    np.save(os.path.join(tmp, "vae_sample.npy"), ReferencePipeline.vae_pixels(img).numpy())
    problems = []
    for name, data_file in (("tiny", "weights.pb"), ("tiny-fp16", "model.onnx_data")):
        pdir = os.path.join(packs, name)
        manifest = json.load(open(os.path.join(pdir, "pack.json")))
        golden = json.load(open(os.path.join(pdir, "golden/golden.json")))
        unet = onnx.load(os.path.join(pdir, "unet/model.onnx"), load_external_data=False)
        if [o.name for o in unet.graph.output] != ["out_sample"]:
            problems.append(f"{name}: shipped UNet outputs {[o.name for o in unet.graph.output]}")
        tnames = set(tensor_names(unet))
        study = {a: module_output_tensor(unet, p) for a, p in SD_TAPS.items()}
        softmaxes = [t for t in tnames if t.endswith("attn2/Softmax_output_0")]
        for must in ("/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/MatMul_output_0",
                     "/up_blocks.1/attentions.1/transformer_blocks.0/attn2/Softmax_output_0"):
            if must not in tnames:
                problems.append(f"{name}: tensor {must} missing")
        xattn = golden.get("cross_attention", {}).get("onnx_tensor")
        extra = sorted(set(study.values()) | ({xattn} if xattn else set()))
        aug_unet = augment(pdir, "unet/model.onnx", os.path.join(tmp, name), extra, data_file)
        clip = onnx.load(os.path.join(pdir, "clip/vision_model.onnx"))
        aug_clip = augment(pdir, "clip/vision_model.onnx", os.path.join(tmp, name), [golden["clip"]["onnx_tensor"]])
        entry = {"dir": pdir, "aug_unet": aug_unet, "aug_clip": aug_clip, "study_taps": study,
                 "softmax_count": len(softmaxes), "fp16": name.endswith("fp16")}
        if entry["fp16"]:
            g = os.path.join(pdir, "golden")
            for k in ("noisy_latent", "text_hidden"):
                np.save(os.path.join(tmp, name, f"{k}_f16.npy"), np.load(os.path.join(g, f"{k}.npy")).astype(np.float16))
        plan["packs"][name] = entry
        print(f"{name}: study taps {json.dumps(study, indent=1)}\n{name}: {len(softmaxes)} attn2 softmax tensors")
    for kind, rel in (("llm", "tiny/llm/tokenizer.json"), ("text", "tiny/tokenizer/tokenizer.json")):
        tok = ReferenceTokenizer.from_file(os.path.join(packs, rel))
        cases = []
        for text in TOKENIZER_CASES:
            for special in (False, True):
                e = tok.encode(text, special)
                cases.append({"text": text, "add_special_tokens": special, "ids": e.ids,
                              "decoded": tok.decode(e.ids, skip_special_tokens=True)})
        plan["tokenizers"][kind] = {"path": os.path.join(packs, rel), "cases": cases}
    plan["chat"] = {"messages": [{"role": "user", "content": "<image>\nwhat colour is the circle"}],
                    "expected": render_chat([{"role": "user", "content": "<image>\nwhat colour is the circle"}])}
    with open(os.path.join(tmp, "plan.json"), "w") as f:
        json.dump(plan, f, indent=1)
    rc = subprocess.call(["node", os.path.join(HERE, "scripts/verify_fixtures.cjs"), os.path.join(tmp, "plan.json")],
                         cwd=REPO)
    for name in ("tiny", "tiny-fp16"):
        code = ("import {PackManifest} from './src/shared/manifest.ts'; import fs from 'node:fs'; "
                f"PackManifest.parse(JSON.parse(fs.readFileSync('{os.path.join(packs, name, 'pack.json')}','utf8')));"
                "console.log('zod ok')")
        r = subprocess.run(["npx", "tsx", "-e", code], cwd=REPO, capture_output=True, text=True)
        print(f"{name}: pack.json {r.stdout.strip() or r.stderr.strip()[-500:]}")
        if r.returncode:
            problems.append(f"{name}: pack.json fails the schema")
    if not args.keep:
        shutil.rmtree(tmp)
    for p in problems:
        print("PROBLEM:", p)
    return 1 if (rc or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
