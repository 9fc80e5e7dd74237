#!/usr/bin/env python3
"""Fill the measured tables of models/mini-world/README.md (between the <!-- tables --> markers)
from eval-python.json, agreement.json, the work folder's times.json and checkpoints, and the file sizes.

    [MW_WORK=W] python -m twinlens_train.mini_world.model_card     (from training/)
"""
from __future__ import annotations

import json
import os
import re
import sys

import torch

from twinlens_train import paths
from twinlens_train.mini_world import card_tables
from twinlens_train.mini_world.recipe import SHIPPED_RECIPE

PACK = os.path.join(paths.REPO, "models", "mini-world")
WORK = os.environ.get("MW_WORK", paths.recipe_work(SHIPPED_RECIPE))
MODES = ["clip", "diffusion", "fused", "fused-xattn", "leaky"]
CATS = ["colour", "shape", "count", "position", "existence", "size"]


def pct(x):
    return "—" if x is None else f"{100 * x:.1f}"


def tables() -> str:
    out = [card_tables.all_tables(PACK, WORK)]
    ev = json.load(open(os.path.join(PACK, "eval-python.json")))
    out.append(f"### Test split (PyTorch reference, {ev['n_items']} items: 300 test + 200 pair items)\n")
    out.append("Accuracy in % (exact one-word match, greedy). `small`/`large` = size of the object the question is "
               "about (count questions count as `small` when a small object of that shape is present).\n")
    out.append("| mode | all | " + " | ".join(CATS) + " | target small | target large | pair acc. | pair items |")
    out.append("|---" * (len(CATS) + 6) + "|")
    for m in MODES:
        r = ev["modes"][m]
        a = r["test_accuracy"]
        row = [m, pct(a.get("all"))] + [pct(a.get(f"category:{c}")) for c in CATS] + \
              [pct(a.get("target:small")), pct(a.get("target:large")), pct(r["pair_accuracy"]),
               pct(r["pair_item_accuracy"])]
        out.append("| " + " | ".join(row) + " |")
    n = ev["modes"]["clip"]["test_counts"]
    out.append("\nItems per category: " + ", ".join(f"{c} {n.get('category:' + c, 0)}" for c in CATS) +
               f"; small-target {n.get('target:small', 0)}, large-target {n.get('target:large', 0)}; "
               f"{ev['modes']['clip']['n_pairs']} pairs (chance pair accuracy is far below single-item chance).\n")
    out.append("Pair accuracy by category (both images right):\n")
    out.append("| mode | " + " | ".join(sorted(ev["modes"]["clip"]["pair_accuracy_by_category"])) + " |")
    out.append("|---" * (1 + len(ev["modes"]["clip"]["pair_accuracy_by_category"])) + "|")
    for m in MODES:
        pc = ev["modes"][m]["pair_accuracy_by_category"]
        out.append("| " + m + " | " + " | ".join(pct(pc[k]) for k in sorted(pc)) + " |")
    fs = ev["pair_feature_similarity"]
    out.append("\nFeature similarity within pairs (mean cosine of the flattened token grids of image A vs B; lower = "
               "the encoder tells the two images apart more):\n")
    out.append("| features | mean cosine |\n|---|---|")
    for k, v in fs.items():
        out.append(f"| {k} | {v['mean_cosine']:.4f} |")
    ag_p = os.path.join(PACK, "agreement.json")
    if os.path.exists(ag_p):
        ag = json.load(open(ag_p))
        out.append(f"\n### TS engine vs PyTorch (greedy answers, {ag['n_items']} items, {ag['sample'].replace('every 1th item of', 'all items of')})\n")
        out.append("| mode | same answer |\n|---|---|")
        for m, v in ag["modes"].items():
            out.append(f"| {m} | {pct(v['agreement'])} % ({len(v['disagreements'])} differ) |")
    t_p = os.path.join(WORK, "times.json")
    if os.path.exists(t_p):
        t = json.load(open(t_p))
        out.append("\n### Time per stage (this run, shared 2-core machine, 1 torch thread)\n")
        out.append("| stage | seconds |\n|---|---|")
        for k, v in t.items():
            out.append(f"| {k} | {v:.0f} |")
        out.append(f"| **total** | **{sum(t.values()):.0f}** |")
        # a resumed stage's entry is its last part only; each mode's checkpoint keeps its own training time
        rows = []
        for m in MODES:
            secs = [_ck_seconds(os.path.join(WORK, f"{st}-{m}.pt")) for st in ("tune", "pairs")]
            if any(x is not None for x in secs):
                rows.append(f"| {m} | " + " | ".join("—" if x is None else f"{x:.0f}" for x in secs) + " |")
        if rows:
            out.append("\nSeconds of training per mode, from its checkpoints (true also for a stage that was resumed; "
                       "stages 2 and 3 run the modes in two worker processes, `fused` + `leaky` beside the other three):\n")
            out.append("| mode | stage 2 | stage 3 |\n|---|---|---|")
            out += rows
    out.append("\n### Files\n")
    out.append("| folder | MB |\n|---|---|")
    tot = 0
    for d in sorted(os.listdir(PACK)):
        p = os.path.join(PACK, d)
        if os.path.isdir(p):
            # the engine's optimised-graph caches (*.twinlens-<hash>.onnx, git-ignored) are not part of the pack
            s = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs_ in os.walk(p) for f in fs_
                    if not re.search(r"\.twinlens-[0-9a-f]{16}\.onnx$", f))
            tot += s
            out.append(f"| {d}/ | {s / 1e6:.2f} |")
        else:
            tot += os.path.getsize(p)
    out.append(f"| **pack total** | **{tot / 1e6:.2f}** |")
    return "\n".join(out) + "\n"


def _ck_seconds(path: str):
    if not os.path.exists(path):
        return None
    return torch.load(path, weights_only=False).get("seconds")


def main():
    p = os.path.join(PACK, "README.md")
    s = open(p).read()
    a, b = s.index("<!-- tables -->"), s.index("<!-- /tables -->")
    s = s[:a] + "<!-- tables -->\n" + tables() + s[b:]
    open(p, "w").write(s)


if __name__ == "__main__":
    sys.exit(main())
