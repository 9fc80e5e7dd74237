"""The loss curve of a run: `loss.json` (every step) and `loss.png`, drawn with PIL so a run on a
headless cluster node needs no plotting library."""
from __future__ import annotations

import json
import math
from typing import Dict, List

from PIL import Image, ImageDraw

W, H, PAD = 640, 360, 48


def write_loss_json(path: str, steps: List[Dict], meta: Dict) -> None:
    with open(path, "w") as f:
        json.dump(dict(meta, steps=steps), f, indent=1)


def _smooth(v: List[float], k: int) -> List[float]:
    out, acc = [], []
    for x in v:
        acc.append(x)
        if len(acc) > k:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def draw_loss_png(path: str, steps: List[Dict], title: str = "") -> None:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([PAD, PAD // 2, W - PAD // 2, H - PAD], outline=(0, 0, 0))
    d.text((PAD, 6), title, fill=(0, 0, 0))
    pts = [(s["step"], s["loss"]) for s in steps if math.isfinite(s["loss"])]
    if pts:
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(ys)
        if y1 - y0 < 1e-9:
            y0, y1 = y0 - 0.5, y1 + 0.5

        def xy(x, y):
            return (PAD + (x - x0) / (x1 - x0) * (W - 1.5 * PAD), H - PAD - (y - y0) / (y1 - y0) * (H - 1.5 * PAD))

        if len(pts) > 1:
            d.line([xy(x, y) for x, y in pts], fill=(170, 190, 230), width=1)
            sm = _smooth(ys, max(1, len(ys) // 20))
            d.line([xy(x, y) for x, y in zip(xs, sm)], fill=(30, 70, 200), width=2)
        else:
            cx, cy = xy(*pts[0])
            d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=(30, 70, 200))
        d.text((4, PAD // 2), f"{y1:.3f}", fill=(0, 0, 0))
        d.text((4, H - PAD - 10), f"{y0:.3f}", fill=(0, 0, 0))
        d.text((PAD, H - PAD + 6), f"step {x0}", fill=(0, 0, 0))
        d.text((W - PAD - 40, H - PAD + 6), f"{x1}", fill=(0, 0, 0))
    img.save(path)
