"""The mini world: seeded scenes of shapes, coarse captions, templated questions
with one-word answers, and MMVP-style pairs that differ in one fine detail.

Scenes are 64x64 RGB, drawn at 4x (256 px) and box-downsampled (anti-aliased).
Every scene is a pure function of (split seed, index): rng = default_rng([seed, index]).

Objects: shape {circle, square, triangle} x colour {red, green, blue, yellow,
purple, orange} x size {large (radius 9-13 px), small (radius 3.5-5 px)}.
Captions name only the LARGE objects (left to right), as web captions name only
the salient things; questions also ask about small objects.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

SIZE = 64
SS = 4  # supersampling factor
SHAPES = ["circle", "square", "triangle"]
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles"}
COLOURS = {
    "red": (215, 40, 40), "green": (40, 170, 60), "blue": (45, 70, 215),
    "yellow": (235, 205, 40), "purple": (145, 55, 190), "orange": (240, 135, 30),
}
COLOUR_NAMES = list(COLOURS)
SIZES = ["large", "small"]
NUMBERS = ["zero", "one", "two", "three", "four"]
CATEGORIES = ["colour", "shape", "count", "position", "existence", "size"]
SIDES = ["left", "right"]
OPTIONS = {"colour": COLOUR_NAMES, "shape": SHAPES, "count": NUMBERS, "position": SIDES,
           "existence": ["yes", "no"], "size": SIZES}
# Words of the captions, questions and answers (both tokenizers).
WORDS = ["what", "colour", "is", "the", "a", "an", "and", "of", "there", "how", "many", "are", "shape", "object",
         "size", "left", "right", "side", "on", "describe", "image", "user", "assistant", "yes", "no"] + SHAPES + list(
    PLURAL.values()) + COLOUR_NAMES + SIZES + NUMBERS + ["?", ".", ",", ":"]

SIDE_MARGIN = 6.0  # px from the centre line: closer objects get no position question (ambiguous)
SPLIT_SEEDS = {"train": 1000, "val": 2000, "test": 3000, "train-pairs": 1500, "val-pairs": 2500,
               "test-pairs": 4000}


@dataclass
class Obj:
    shape: str
    colour: str
    size: str
    x: float
    y: float
    r: float

    def name(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass
class Scene:
    objects: List[Obj]
    bg: tuple
    texture: int  # 0 none, 1 stripes, 2 speckle
    tex_seed: int
    tex_phase: float = 0.0

    def large(self) -> List[Obj]:
        return [o for o in self.objects if o.size == "large"]


@dataclass
class QA:
    question: str
    answer: str
    category: str
    target: str  # size of the referenced object: small | large | any
    options: List[str] = field(default_factory=list)


# ------------------------------------------------------------------ sampling
def _radius(rng, size: str) -> float:
    return float(rng.uniform(9.0, 13.0) if size == "large" else rng.uniform(3.5, 5.0))


def _place(rng, objs: List[Obj], r: float) -> Optional[tuple]:
    for _ in range(60):
        x, y = rng.uniform(r + 1.5, SIZE - r - 1.5, 2)
        if all((x - o.x) ** 2 + (y - o.y) ** 2 >= (r + o.r + 2.5) ** 2 for o in objs):
            return float(x), float(y)
    return None


def sample_scene(rng: np.random.Generator) -> Scene:
    n_large = int(rng.choice([1, 2], p=[0.55, 0.45]))
    n_small = int(rng.choice([0, 1, 2], p=[0.2, 0.45, 0.35]))
    objs: List[Obj] = []
    for size in ["large"] * n_large + ["small"] * n_small:
        r = _radius(rng, size)
        pos = _place(rng, objs, r)
        if pos is None:
            continue
        objs.append(Obj(SHAPES[rng.integers(3)], COLOUR_NAMES[rng.integers(6)], size, pos[0], pos[1], r))
    base = rng.uniform(150, 215)
    bg = tuple(float(np.clip(base + rng.uniform(-18, 18), 0, 255)) for _ in range(3))
    return Scene(objs, bg, int(rng.choice([0, 1, 2], p=[0.4, 0.3, 0.3])), int(rng.integers(1 << 30)),
                 float(rng.uniform(0, 6.28)))


# ------------------------------------------------------------------ rendering
_GRID = None


def _grid():
    global _GRID
    if _GRID is None:
        n = SIZE * SS
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        _GRID = ((xx + 0.5) / SS, (yy + 0.5) / SS)
    return _GRID


def shape_mask(o: Obj) -> np.ndarray:
    xx, yy = _grid()
    dx, dy = xx - o.x, yy - o.y
    if o.shape == "circle":
        return dx * dx + dy * dy <= o.r * o.r
    if o.shape == "square":
        h = o.r * 0.86
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    # upward triangle with vertices (0,-r), (-0.95r, 0.75r), (0.95r, 0.75r)
    r = o.r
    top, bl, br = (0.0, -r), (-0.95 * r, 0.75 * r), (0.95 * r, 0.75 * r)

    def side(a, b):
        return (b[0] - a[0]) * (dy - a[1]) - (b[1] - a[1]) * (dx - a[0])

    s1, s2, s3 = side(top, br), side(br, bl), side(bl, top)
    return (s1 >= 0) & (s2 >= 0) & (s3 >= 0)


def render(scene: Scene) -> np.ndarray:
    n = SIZE * SS
    img = np.empty((n, n, 3), np.float32)
    img[:] = np.array(scene.bg, np.float32)
    xx, yy = _grid()
    if scene.texture == 1:
        img += (8.0 * np.sin((xx + yy) * 0.9 + scene.tex_phase))[..., None]
    elif scene.texture == 2:
        t = np.random.default_rng(scene.tex_seed).normal(0, 9, (SIZE, SIZE)).astype(np.float32)
        img += np.repeat(np.repeat(t, SS, 0), SS, 1)[..., None]
    for o in scene.objects:
        img[shape_mask(o)] = np.array(COLOURS[o.colour], np.float32)
    img = img.reshape(SIZE, SS, SIZE, SS, 3).mean(axis=(1, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ language
def caption(scene: Scene) -> str:
    large = sorted(scene.large(), key=lambda o: o.x)
    return " and ".join(f"{'an' if o.colour == 'orange' else 'a'} {o.colour} {o.shape}" for o in large)


def dense_caption(scene: Scene) -> str:
    """Every object, left to right, with size, colour and shape: the detailed description used as
    auxiliary instruction data in stage 2 (as LLaVA mixes detailed descriptions into its VQA data).
    Only existing vocabulary words, so the tokenizers are unchanged."""
    objs = sorted(scene.objects, key=lambda o: o.x)
    return " and ".join(f"a {o.size} {o.colour} {o.shape}" for o in objs)


def _unique(scene: Scene, o: Obj, keys) -> bool:
    return sum(all(getattr(p, k) == getattr(o, k) for k in keys) for p in scene.objects) == 1


def questions_for(scene: Scene, rng: np.random.Generator) -> Dict[str, List[QA]]:
    """Every valid question of each category for this scene."""
    out: Dict[str, List[QA]] = {c: [] for c in CATEGORIES}
    objs = scene.objects
    for o in objs:
        if _unique(scene, o, ("size", "shape")):
            out["colour"].append(QA(f"what colour is the {o.size} {o.shape}", o.colour, "colour", o.size))
        if _unique(scene, o, ("size", "colour")):
            out["shape"].append(QA(f"what shape is the {o.size} {o.colour} object", o.shape, "shape", o.size))
        if _unique(scene, o, ("colour", "shape")):
            out["size"].append(QA(f"what size is the {o.colour} {o.shape}", o.size, "size", o.size))
        # existence: the object itself (yes) and a one-attribute perturbation (no)
        out["existence"].append(QA(f"is there a {o.size} {o.colour} {o.shape}", "yes", "existence", o.size))
        for _ in range(4):
            p = copy.copy(o)
            k = ["shape", "colour", "size"][rng.integers(3)]
            if k == "shape":
                p.shape = SHAPES[rng.integers(3)]
            elif k == "colour":
                p.colour = COLOUR_NAMES[rng.integers(6)]
            else:
                p.size = "small" if o.size == "large" else "large"
            if not any(q.shape == p.shape and q.colour == p.colour and q.size == p.size for q in objs):
                out["existence"].append(QA(f"is there a {p.size} {p.colour} {p.shape}", "no", "existence", p.size))
                break
    for s in SHAPES:
        n = sum(o.shape == s for o in objs)
        has_small = any(o.shape == s and o.size == "small" for o in objs)
        out["count"].append(QA(f"how many {PLURAL[s]} are there", NUMBERS[n], "count", "small" if has_small else "large"))
    # position: which half of the image an object is in. (v1 asked "is the red circle left of the blue
    # square"; even the oracle reader, given every object's true x, answered those at chance: comparing two
    # retrieved coordinates is beyond a 2-layer reader. Reading one object's side is a lookup like colour.)
    for o in objs:
        if _unique(scene, o, ("colour", "shape")) and abs(o.x - SIZE / 2) >= SIDE_MARGIN:
            out["position"].append(QA(f"what side is the {o.name()} on", SIDES[int(o.x >= SIZE / 2)], "position",
                                      o.size))
    for c, qs in out.items():
        for q in qs:
            q.options = list(OPTIONS[c])
    return out


def sample_questions(scene: Scene, rng: np.random.Generator, k: int) -> List[QA]:
    """k questions, categories round-robin in random order, preferring small targets half the time."""
    pool = questions_for(scene, rng)
    cats = [c for c in CATEGORIES if pool[c]]
    rng.shuffle(cats)
    out: List[QA] = []
    seen = set()
    i = 0
    while len(out) < k and i < 4 * k + 8:
        c = cats[i % len(cats)]
        i += 1
        qs = [q for q in pool[c] if q.question not in seen]
        if not qs:
            continue
        small = [q for q in qs if q.target == "small"]
        if small and rng.random() < 0.5:
            qs = small
        if c in ("existence", "position"):  # balance yes / no and left / right
            want = OPTIONS[c][rng.integers(2)] if c == "position" else ["yes", "no"][rng.integers(2)]
            qs = [q for q in qs if q.answer == want] or qs
        q = qs[rng.integers(len(qs))]
        seen.add(q.question)
        out.append(q)
    return out


# ------------------------------------------------------------------ pairs
def make_pair(rng: np.random.Generator, max_tries: int = 50):
    """Two scenes differing in one detail of a SMALL object, one question, two different answers.
    Returns (scene_a, scene_b, question, answer_a, answer_b, category) or None."""
    for _ in range(max_tries):
        a = sample_scene(rng)
        smalls = [o for o in a.objects if o.size == "small"]
        if not smalls:
            continue
        o = smalls[rng.integers(len(smalls))]
        i = a.objects.index(o)
        b = copy.deepcopy(a)
        ob = b.objects[i]
        kind = ["colour", "shape", "existence", "count"][rng.integers(4)]
        if kind == "colour":
            if not _unique(a, o, ("size", "shape")):
                continue
            ob.colour = [c for c in COLOUR_NAMES if c != o.colour][rng.integers(5)]
            q = f"what colour is the small {o.shape}"
            if not _unique(b, ob, ("size", "shape")):
                continue
            return a, b, q, o.colour, ob.colour, "colour"
        if kind == "shape":
            if not _unique(a, o, ("size", "colour")):
                continue
            ob.shape = [s for s in SHAPES if s != o.shape][rng.integers(2)]
            return a, b, f"what shape is the small {o.colour} object", o.shape, ob.shape, "shape"
        if kind == "existence":
            if sum(p.size == o.size and p.colour == o.colour and p.shape == o.shape for p in a.objects) != 1:
                continue
            del b.objects[i]
            return a, b, f"is there a small {o.colour} {o.shape}", "yes", "no", "existence"
        new = [s for s in SHAPES if s != o.shape][rng.integers(2)]
        na = sum(p.shape == o.shape for p in a.objects)
        ob.shape = new
        nb = sum(p.shape == o.shape for p in b.objects)
        return a, b, f"how many {PLURAL[o.shape]} are there", NUMBERS[na], NUMBERS[nb], "count"
    return None


# ------------------------------------------------------------------ splits
def scene_rng(split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([SPLIT_SEEDS[split], index])


def build_split(split: str, n_scenes: int, q_per_scene: int) -> List[dict]:
    """[{scene, image, caption, qas: [QA]}] for scene indices 0..n-1 of a split."""
    out = []
    for i in range(n_scenes):
        rng = scene_rng(split, i)
        s = sample_scene(rng)
        out.append({"scene": s, "image": render(s), "caption": caption(s), "dense": dense_caption(s),
                    "qas": sample_questions(s, rng, q_per_scene)})
    return out


def build_pairs(split: str, n_pairs: int) -> List[dict]:
    """[{a, b, image_a, image_b, caption_a, caption_b, question, answer_a, answer_b, category}]"""
    out = []
    i = 0
    while len(out) < n_pairs:
        p = make_pair(scene_rng(split, i))
        i += 1
        if p is None:
            continue
        a, b, q, aa, ab, cat = p
        out.append({"a": a, "b": b, "image_a": render(a), "image_b": render(b), "caption_a": caption(a),
                    "caption_b": caption(b), "question": q, "answer_a": aa, "answer_b": ab, "category": cat})
    return out
