#!/usr/bin/env python3
"""Sample images with questions for assets/samples/, answered through the TS engine.

    python -m twinlens_train.mini_world.samples [--pack models/mini-world]     (from training/)

Renders hand-placed mini-world scenes (not from any split), asks each question with
`npx twinlens ask --pack PACK --image IMG --question Q --mode all --json`, and writes
assets/samples/samples.json with the expected answer, every mode's answer and which
modes answered correctly (measured, not assumed).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess

from twinlens_train.images import save_png
from twinlens_train.paths import REPO
from twinlens_train.world import Obj, Scene, render

GREY = (180.0, 178.0, 185.0)
SAMPLES = [
    ("small-square", Scene([Obj("circle", "red", "large", 22, 30, 12), Obj("square", "blue", "small", 48, 44, 4.5)],
                           GREY, 0, 1), "what colour is the small square", "blue"),
    ("two-circles", Scene([Obj("circle", "green", "large", 20, 22, 11), Obj("triangle", "blue", "large", 44, 42, 11),
                           Obj("circle", "yellow", "small", 50, 14, 4.5)], GREY, 1, 2, 1.0),
     "how many circles are there", "two"),
    ("hidden-triangle", Scene([Obj("square", "orange", "large", 30, 34, 12),
                               Obj("triangle", "purple", "small", 10, 10, 4.8)], (160.0, 170.0, 165.0), 0, 3),
     "is there a small purple triangle", "yes"),
    ("left-of", Scene([Obj("circle", "red", "large", 16, 40, 10), Obj("square", "blue", "large", 46, 22, 10)],
                      GREY, 2, 4), "what side is the red circle on", "left"),
    ("shape", Scene([Obj("triangle", "orange", "large", 32, 30, 13), Obj("circle", "green", "small", 54, 54, 4)],
                    (200.0, 195.0, 190.0), 0, 5), "what shape is the large orange object", "triangle"),
    ("size", Scene([Obj("square", "yellow", "large", 24, 24, 11), Obj("triangle", "green", "small", 46, 48, 4.5)],
                   GREY, 1, 6, 2.0), "what size is the green triangle", "small"),
    # the detailed description (stage-2 auxiliary task): every object left to right, small ones included
    ("what-is-there", Scene([Obj("circle", "red", "large", 22, 30, 12), Obj("square", "blue", "small", 48, 44, 4.5)],
                            GREY, 0, 1), "what is there", "a large red circle and a small blue square"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default=os.path.join(REPO, "models", "mini-world"))
    args = ap.parse_args()
    out_dir = os.path.join(REPO, "assets", "samples")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for name, scene, q, a in SAMPLES:
        fn = f"{name}.png"
        save_png(os.path.join(out_dir, fn), render(scene))
        r = subprocess.run(["npx", "twinlens", "ask", "--pack", args.pack, "--image", os.path.join(out_dir, fn),
                            "--question", q, "--mode", "all", "--json"], cwd=REPO, capture_output=True, text=True,
                           check=True)
        ans = {m: v["text"].strip() for m, v in json.loads(r.stdout)["answers"].items()}
        rows.append({"image": fn, "question": q, "expected": a, "answers": ans,
                     "correct_modes": [m for m, t in ans.items() if t.lower().rstrip(".") == a]})
        print(rows[-1], flush=True)
    with open(os.path.join(out_dir, "samples.json"), "w") as f:
        json.dump({"pack": "models/mini-world", "how": "npx twinlens ask --pack models/mini-world --image "
                   "assets/samples/<image> --question '<question>' --mode all --json (greedy, pack defaults)",
                   "samples": rows}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
