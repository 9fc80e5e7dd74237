"""Model-card tables built from the TS engine's measurement files of a pack (stage `report`):
the study's Table 1 in miniature between a floor and a ceiling, the t and tap sweeps, the probes,
the leakage probe, and McNemar tests of the fine-detail claim. Used by model_card.py.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from typing import Dict, List, Optional

MODES = ["clip", "diffusion", "fused", "fused-xattn", "leaky"]
CATS = ["colour", "shape", "count", "position", "existence", "size"]


def _load(path: str) -> Optional[dict]:
    return json.load(open(path)) if os.path.exists(path) else None


def _ci(s: dict) -> str:
    return f"{100 * s['accuracy']:.1f} [{100 * s['ci95'][0]:.0f}–{100 * s['ci95'][1]:.0f}]"


def wilson(k: int, n: int, z: float = 1.96):
    if n == 0:
        return (0.0, 0.0)
    p, d = k / n, 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value on the discordant counts."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def items(pack: str) -> List[dict]:
    p = os.path.join(pack, "eval.results.jsonl")
    if not os.path.exists(p):
        return []
    rows = [json.loads(x) for x in open(p)]
    return [r for r in rows if r.get("type") == "item" and r.get("setting", "default") == "default"]


def majority_floor(pack: str, work: str) -> Optional[dict]:
    """The most frequent TRAINING answer per category, applied to the test items: a blind guess."""
    dj = os.path.join(work, "data.json")
    its = [r for r in items(pack) if r["tags"].get("split") == "test"]
    if not os.path.exists(dj) or not its:
        return None
    qas = json.load(open(dj))["qas"]
    best = {}
    for cat in CATS:
        cnt = Counter(q[2] for q in qas if q[5] == "train" and q[3] == cat)
        best[cat] = cnt.most_common(1)[0][0] if cnt else ""
    k = sum(r["answer"] == best.get(r["category"]) for r in its)
    lo, hi = wilson(k, len(its))
    big = [r for r in its if r["tags"].get("target") == "large"]
    kb = sum(r["answer"] == best.get(r["category"]) for r in big)
    return {"accuracy": k / len(its), "ci95": [lo, hi], "n": len(its), "large": kb / max(1, len(big))}


def table1(pack: str, work: str) -> List[str]:
    ev = _load(os.path.join(pack, "eval.json"))
    if not ev:
        return []
    res = ev["results"][0]["modes"]
    its = items(pack)
    out = ["### Table 1 in miniature (TypeScript engine, test split, never used for tuning)\n",
           "Accuracy in % with 95 % Wilson intervals. `test` = the 300-item test split; `large`/`small` = test "
           "items about a large / small object; `pairs` = MMVP-style pairs with both images right (100 pairs). "
           "Floor: the most frequent training answer of each category (no image). The blind and oracle readers "
           "(same LLM and recipe; zero tokens / one ground-truth token per object, see Bounds) need no encoder, "
           "so they are scored on these same test items by PyTorch (first answer token).\n",
           "| mode | test | target large | target small | pair acc. |", "|---|---|---|---|---|"]
    floor = majority_floor(pack, work)
    if floor:
        out.append(f"| *floor: majority answer* | {100 * floor['accuracy']:.1f} [{100 * floor['ci95'][0]:.0f}–"
                   f"{100 * floor['ci95'][1]:.0f}] | {100 * floor['large']:.1f} | | |")
    b = _load(os.path.join(pack, "bounds.json"))
    for name in ("blind", "oracle"):
        h = ((b or {}).get("readers", {}).get(name) or {}).get("heldout")
        if h:
            t, pr = h["test"], h["pairs"]

            def c(x):
                return f"{x['acc']:.1f} [{x['ci95'][0]:.0f}–{x['ci95'][1]:.0f}]"
            out.append(f"| *{name} reader* | {c(t['all'])} | {c(t['target large'])} | {c(t['target small'])} | "
                       f"{c(pr)} |")
    for m in MODES:
        if m not in res:
            continue
        test = [r for r in its if r["tags"].get("split") == "test"]

        def acc(rows):
            k = sum(r["answers"][m]["correct"] for r in rows)
            lo, hi = wilson(k, len(rows))
            return f"{100 * k / max(1, len(rows)):.1f} [{100 * lo:.0f}–{100 * hi:.0f}]"
        large = [r for r in test if r["tags"].get("target") == "large"]
        small = [r for r in test if r["tags"].get("target") == "small"]
        pairs = res[m].get("pairs")
        out.append(f"| {m}{' (control)' if m == 'leaky' else ''} | {acc(test)} | {acc(large)} | {acc(small)} | "
                   f"{_ci(pairs) if pairs else ''} |")
    out.append("\nPer category (test split):\n")
    out.append("| mode | " + " | ".join(CATS) + " |")
    out.append("|---" * (len(CATS) + 1) + "|")
    for m in MODES:
        if m not in res:
            continue
        row = []
        for c in CATS:
            rows = [r for r in its if r["tags"].get("split") == "test" and r["category"] == c]
            row.append(f"{100 * sum(r['answers'][m]['correct'] for r in rows) / max(1, len(rows)):.1f}")
        out.append(f"| {m} | " + " | ".join(row) + " |")
    return out


def fine_detail(pack: str) -> List[str]:
    """McNemar: does a diffusion-reading mode beat CLIP-only on small-target items and on pair items?"""
    its = items(pack)
    if not its:
        return []
    out = ["\n### The fine-detail claim, tested\n",
           "Items about small objects (test split) and every pair item; `b` = items the mode gets right and "
           "CLIP-only wrong, `c` = the reverse; exact two-sided McNemar p.\n",
           "| mode vs clip | items | mode acc. | clip acc. | b | c | p |", "|---|---|---|---|---|---|---|"]
    groups = {"small-target (test)": [r for r in its if r["tags"].get("split") == "test"
                                      and r["tags"].get("target") == "small"],
              "pair items": [r for r in its if r["tags"].get("split") == "pairs"]}
    for m in ("diffusion", "fused", "fused-xattn"):
        for g, rows in groups.items():
            if not rows or m not in rows[0]["answers"]:
                continue
            a = [r["answers"][m]["correct"] for r in rows]
            cl = [r["answers"]["clip"]["correct"] for r in rows]
            b = sum(x and not y for x, y in zip(a, cl))
            c = sum(y and not x for x, y in zip(a, cl))
            out.append(f"| {m}, {g} | {len(rows)} | {100 * sum(a) / len(rows):.1f} | {100 * sum(cl) / len(rows):.1f} "
                       f"| {b} | {c} | {mcnemar_p(b, c):.3f} |")
    return out


def sweep(pack: str, file: str, key: str, title: str) -> List[str]:
    ev = _load(os.path.join(pack, file))
    if not ev:
        return []
    modes = [m for m in MODES if m in ev["results"][0]["modes"]]
    out = [f"\n### {title}\n", f"| {key} | " + " | ".join(modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for r in ev["results"]:
        out.append(f"| {r['setting']} | " + " | ".join(_ci(r["modes"][m]) for m in modes) + " |")
    return out


def bounds(pack: str) -> List[str]:
    b = _load(os.path.join(pack, "bounds.json"))
    if not b:
        return []
    cols = ["all"] + CATS + ["target small", "target large"]
    out = ["\n### Bounds (validation split: the same projector + LLM recipe, other visual tokens)\n",
           "`python -m twinlens_train.mini_world.bounds`: blind = 64 zero tokens; oracle = one ground-truth token "
           "per object (shape, colour, size, x, y); majority = most frequent training answer per category. First-answer-token "
           "accuracy in %, " + f"{b['readers'].get('oracle', b['readers'].get('blind', {})).get('all', {}).get('n', 0)} "
           "validation questions.\n",
           "| reader | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in b["readers"].items():
        out.append(f"| {name} | " + " | ".join(f"{r[k]['acc']:.1f}" for k in cols) + " |")
    p = b.get("probes")
    if p:
        keys = ["colour", "shape", "size", "x-third", "n-objects", "small-present"]
        out += ["\nLinear probes (validation images; object targets read the token under the object's centre, "
                f"image targets the mean+max pooled tokens; {p['n_train_images']} training images):\n",
                "| features | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for name, r in p.items():
            if isinstance(r, dict):
                out.append(f"| {name} | " + " | ".join(f"{100 * r[k]:.1f}" for k in keys) + " |")
    p = b.get("small_probes")
    if p:
        keys = ["colour linear", "colour mlp", "shape linear", "shape mlp"]
        out += ["\nSmall objects only (what the pairs change): colour and shape from the token under the object's "
                f"centre, linear and one-hidden-layer probes; training images 0–{p['n_train_images'] - 1} fit, the next "
                f"{p['n_val_images']} score; UNet taps at t = 50, unconditional:\n",
                "| features | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for name, r in p.items():
            if isinstance(r, dict):
                out.append(f"| {name} | " + " | ".join(f"{100 * r[k]:.1f}" for k in keys) + " |")
    return out


def leakage(pack: str) -> List[str]:
    lk = _load(os.path.join(pack, "leakage.json"))
    if not lk:
        return []
    out = [f"\n### Leakage probe (caption task, {lk['evaluated']} test images, mismatched caption as SD prompt)\n",
           "| mode | s | leak CIDEr | control CIDEr | excess | toward partner |", "|---|---|---|---|---|---|"]
    for row in lk["rows"]:
        for m, v in row["modes"].items():
            L = v["leakage"]
            out.append(f"| {m} | {row['guidance']} | {L['cider']:.2f} | {L['controlCider']:.2f} | "
                       f"{L['excessCider']:+.2f} | {100 * v['towardPartnerAnswer']['rate']:.0f} % |")
    return out


def prompt_effect(pack: str) -> List[str]:
    pe = _load(os.path.join(pack, "prompt-effect.json"))
    if not pe:
        return []
    out = [f"\nHow much the SD prompt moves each tap (`prompt_effect.py`: median ‖f_c − f_u‖ / ‖f_u‖ over "
           f"{pe['images']} validation images, t = {pe['t']}; a tap the prompt barely moves has little of it to leak):\n",
           "| tap | own caption | mismatched caption |", "|---|---|---|"]
    for tap, r in pe["taps"].items():
        out.append(f"| {tap} | {100 * r['own caption']:.1f} % | {100 * r['mismatched caption']:.1f} % |")
    return out


def all_tables(pack: str, work: str) -> str:
    tap = json.load(open(os.path.join(pack, "pack.json")))["diffusion"]["defaults"]["tap"]
    parts = table1(pack, work) + fine_detail(pack) + bounds(pack) + \
        sweep(pack, "eval-t.json", "t", "t sweep (projectors trained at t = 50, evaluated at each t)") + \
        sweep(pack, "eval-s.json", "guidance", "Guidance sweep (s = 0: unconditional features, the question not "
              "heard; projectors trained at s = 4, the dropout-trained ones also on 30 % of s = 0 questions; leaky on none)") + \
        sweep(pack, "eval-tap.json", "tap", f"Tap sweep (projectors trained on {tap}, evaluated on "
              "other taps of the same width: a check of how tap-specific they are, not a retraining)") + \
        leakage(pack) + prompt_effect(pack)
    return "\n".join(parts) + "\n" if parts else ""
