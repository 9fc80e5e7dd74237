#!/usr/bin/env python3
"""Cross-framework check: greedy answers of the TypeScript engine (ONNX Runtime, the exported
pack) vs the PyTorch reference (eval_reference.py predictions) on a sample of the
test suites.

    python -m twinlens_train.mini_world.agreement [--quick] [--n 60]     (from training/)

Writes <pack>/agreement.json: per mode, the fraction of items with the same normalised answer,
and the disagreeing items. Sample = every k-th item of predictions-python.json (deterministic).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from twinlens_train.mini_world.recipe import SHIPPED_RECIPE
from twinlens_train.paths import REPO, WORK, recipe_work

MODES = ["clip", "diffusion", "fused", "fused-xattn", "leaky"]


def norm(s: str) -> str:
    return s.strip().lower().rstrip(".?!")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--pack", default=None)
    ap.add_argument("--work", default=None, help="checkpoint folder of the run (default: the shipped recipe's)")
    args = ap.parse_args()
    work = args.work or (os.path.join(WORK, "quick") if args.quick else recipe_work(SHIPPED_RECIPE))
    pack = os.path.abspath(args.pack or (os.path.join(work, "pack") if args.quick
                                         else os.path.join(REPO, "models", "mini-world")))
    preds = json.load(open(os.path.join(work, "predictions-python.json")))
    step = max(1, len(preds) // args.n)
    sample = preds[::step][:args.n]
    plan = {"pack": pack, "modes": MODES,
            "items": [{"id": p["id"], "image": os.path.abspath(p["image"]), "question": p["question"]} for p in sample]}
    plan_path, out_path = os.path.join(work, "agreement-plan.json"), os.path.join(work, "agreement-ts.json")
    json.dump(plan, open(plan_path, "w"))
    subprocess.run(["npx", "tsx", "training/scripts/ask_suite.ts", plan_path, out_path], cwd=REPO, check=True)
    ts = {x["id"]: x for x in json.load(open(out_path))["items"]}
    tap = json.load(open(os.path.join(pack, "pack.json")))["diffusion"]["defaults"]["tap"]
    res = {"n_items": len(sample), "sample": f"every {step}th item of the test + pairs suites",
           "decoding": f"greedy; diffusion t=50, s=4, tap {tap}, mulberry32 seed 0, question as prompt",
           "modes": {}}
    for m in MODES:
        same, diffs = 0, []
        for p in sample:
            a_py, a_ts = norm(p[m]), norm(ts[p["id"]]["answers"].get(m, "<missing>"))
            if a_py == a_ts:
                same += 1
            else:
                diffs.append({"id": p["id"], "question": p["question"], "pytorch": p[m],
                              "engine": ts[p["id"]]["answers"].get(m)})
        res["modes"][m] = {"agreement": round(same / len(sample), 4), "disagreements": diffs}
    res["seconds_engine"] = json.load(open(out_path))["seconds"]
    json.dump(res, open(os.path.join(pack, "agreement.json"), "w"), indent=2)
    print(json.dumps({m: v["agreement"] for m, v in res["modes"].items()}))


if __name__ == "__main__":
    sys.exit(main())
