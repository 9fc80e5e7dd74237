"""A small dataset in the LLaVA file formats, drawn from the mini world, so the recipe (readers,
feature extraction, both training stages) can run end to end without downloading LLaVA's data.

    python -m twinlens_train.llava.make_dataset --out DIR --scenes N --seed S

writes
    DIR/images/scene-00000.png ...
    DIR/pretrain.json   LLaVA-Pretrain layout: one caption per scene, behind an instruction
                        phrasing drawn from a small list (as BLIP-LAION-CC-SBU-558k does)
    DIR/instruct.json   LLaVA-Instruct layout: multi-turn VQA per scene (<image> in the first human
                        turn), a detailed-description turn, and a few text-only rows (as the
                        665k mix holds ShareGPT text)
    DIR/suite.jsonl     the same questions as one-question suite lines (our JSONL format)

Scenes, captions and questions come from twinlens_train.world; a scene is a pure function of
(seed, index), so the same arguments give byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import List

import numpy as np

from .. import world
from ..images import save_png
from .data import IMAGE_TOKEN

# Phrasings in the spirit of LLaVA-Pretrain's brief-description prompts.
PRETRAIN_PROMPTS = [
    "Render a clear and concise summary of the photo.",
    "Describe the image concisely.",
    "Give a brief description of the image.",
    "Summarize the visual content of the image.",
    "Share a concise interpretation of the image provided.",
]
DESCRIBE = "describe the image in detail"


def _text_only_rows(rng: np.random.Generator, k: int, start: int) -> List[dict]:
    """Questions about the world's vocabulary with no image: the model must not need one."""
    rows = []
    for j in range(k):
        if rng.random() < 0.5:
            w = world.COLOUR_NAMES[rng.integers(len(world.COLOUR_NAMES))]
            q, a = f"is {w} a colour", "yes"
        else:
            w = world.SHAPES[rng.integers(len(world.SHAPES))]
            q, a = f"is {w} a colour", "no"
        rows.append({"id": f"text-{start + j:05d}",
                     "conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]})
    return rows


def make_dataset(out: str, scenes: int, seed: int = 0, questions: int = 3, text_every: int = 4) -> dict:
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    pretrain, instruct, suite = [], [], []
    n_text = 0
    for i in range(scenes):
        rng = np.random.default_rng([seed, i])
        scene = world.sample_scene(rng)
        qas = world.sample_questions(scene, rng, questions)
        fn = f"images/scene-{i:05d}.png"
        save_png(os.path.join(out, fn), world.render(scene))
        sid = f"scene-{i:05d}"
        prompt = PRETRAIN_PROMPTS[rng.integers(len(PRETRAIN_PROMPTS))]
        pretrain.append({"id": sid, "image": fn, "conversations": [
            {"from": "human", "value": f"{IMAGE_TOKEN}\n{prompt}"},
            {"from": "gpt", "value": world.caption(scene)}]})
        conv = []
        for j, qa in enumerate(qas):
            conv.append({"from": "human", "value": (f"{IMAGE_TOKEN}\n" if j == 0 else "") + qa.question})
            conv.append({"from": "gpt", "value": qa.answer})
            suite.append({"id": f"{sid}-q{j}", "image": fn, "question": qa.question, "answer": qa.answer,
                          "options": qa.options, "category": qa.category, "target": qa.target,
                          "caption": world.caption(scene)})
        conv.append({"from": "human", "value": DESCRIBE if conv else f"{IMAGE_TOKEN}\n{DESCRIBE}"})
        conv.append({"from": "gpt", "value": world.dense_caption(scene)})
        instruct.append({"id": sid, "image": fn, "conversations": conv})
        if text_every and i % text_every == text_every - 1:
            rows = _text_only_rows(rng, 1, n_text)
            n_text += len(rows)
            instruct.extend(rows)
    for name, rows in (("pretrain.json", pretrain), ("instruct.json", instruct)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(rows, f, indent=1)
    with open(os.path.join(out, "suite.jsonl"), "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in suite)
    return {"scenes": scenes, "pretrain": len(pretrain), "instruct": len(instruct), "textOnly": n_text,
            "suite": len(suite)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--questions", type=int, default=3, help="VQA turns per scene")
    ap.add_argument("--text-every", type=int, default=4, help="one text-only row every N scenes (0: none)")
    a = ap.parse_args(argv)
    info = make_dataset(a.out, a.scenes, a.seed, a.questions, a.text_every)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
