"""Does a retrained pack reproduce the shipped one?

`python -m twinlens_train.mini_world.compare_packs models/mini-world <new pack>` compares, file by file, every
ONNX graph's weights (initializer by initializer, as numbers: two exports of equal weights may still differ in
bytes of metadata) and every answer the evaluation files record (the TypeScript engine's per-item answers in
eval*.json, PyTorch's accuracies in eval-python.json, the bounds' readers). It prints what differs and exits 1 if
anything does, so "training from nothing reproduces the shipped numbers" is a command rather than a claim.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

# The engine writes optimised copies beside a graph (`model.twinlens-<hash>.onnx`); they are caches, not the pack.
CACHE_MARK = ".twinlens-"
EVAL_FILES = ("eval.json", "eval-pairs.json", "eval-t.json", "eval-s.json", "eval-tap.json")


def pack_graphs(pack: Path) -> list[str]:
    return sorted(
        str(p.relative_to(pack)) for p in pack.rglob("*.onnx") if CACHE_MARK not in p.name
    )


def graph_weights(path: Path) -> dict[str, np.ndarray]:
    # External data (if any) sits beside the graph; onnx.load resolves it relative to the file.
    # The exporter folds some tensors (position ids, embedding tables) into Constant nodes: those count too.
    model = onnx.load(str(path))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    weights[f"{node.output[0]} (constant)"] = numpy_helper.to_array(attr.t)
    return weights


def compare_graph(a: Path, b: Path) -> list[str]:
    wa, wb = graph_weights(a), graph_weights(b)
    problems = []
    for name in sorted(set(wa) | set(wb)):
        if name not in wa or name not in wb:
            problems.append(f"weight {name} only in {'the first' if name in wa else 'the second'} pack")
            continue
        x, y = wa[name], wb[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            problems.append(f"weight {name}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
        elif not np.array_equal(x, y):
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64)).max()
            problems.append(f"weight {name}: max |difference| {diff:.3g}")
    if len(problems) > 3:  # a retrained graph differs everywhere: one line says how much
        largest = max(problems, key=lambda p: float(p.rsplit(" ", 1)[1]) if "max |difference|" in p else 0.0)
        return [f"{len(problems)} of {len(set(wa) | set(wb))} weights differ; largest: {largest}"]
    return problems


def eval_answers(path: Path) -> dict[tuple[str, str, str], str]:
    """(setting, item id, mode) → answer text, from a twinlens-eval file."""
    data = json.loads(path.read_text())
    out = {}
    for item in data["items"]:
        for mode, answer in item.get("answers", {}).items():
            out[(item.get("setting", "default"), item["id"], mode)] = answer.get("text")
    return out


def compare_eval(a: Path, b: Path) -> list[str]:
    xa, xb = eval_answers(a), eval_answers(b)
    if set(xa) != set(xb):
        return [f"{a.name}: the two files answer different items ({len(xa)} vs {len(xb)} answers)"]
    diffs = [k for k in sorted(xa) if xa[k] != xb[k]]
    return [
        f"{a.name}: {len(diffs)} of {len(xa)} answers differ, first: {' / '.join(diffs[0])}"
        f" {xa[diffs[0]]!r} vs {xb[diffs[0]]!r}"
    ] if diffs else []


def compare_json(a: Path, b: Path, keys: tuple[str, ...]) -> list[str]:
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    return [f"{a.name}: {k} differs" for k in keys if da.get(k) != db.get(k)]


def compare_packs(first: Path, second: Path) -> tuple[list[str], list[str]]:
    """Returns (what was compared, what differs)."""
    checked, problems = [], []
    graphs_a, graphs_b = pack_graphs(first), pack_graphs(second)
    for rel in sorted(set(graphs_a) ^ set(graphs_b)):
        problems.append(f"{rel}: only in {'the first' if rel in graphs_a else 'the second'} pack")
    for rel in sorted(set(graphs_a) & set(graphs_b)):
        found = compare_graph(first / rel, second / rel)
        checked.append(rel)
        problems += [f"{rel}: {p}" for p in found]
    for name in EVAL_FILES:
        if (first / name).exists() and (second / name).exists():
            checked.append(name)
            problems += compare_eval(first / name, second / name)
    for name, keys in (("eval-python.json", ("modes",)), ("bounds.json", ("majority", "readers", "probes", "small_probes"))):
        if (first / name).exists() and (second / name).exists():
            checked.append(name)
            problems += compare_json(first / name, second / name, keys)
    return checked, problems


# What stage 1 and stage `llm` train: export_encoders writes them, so a run can be checked before stage 2 ends.
ENCODER_GRAPHS = ("vae_encoder/model.onnx", "text_encoder/model.onnx", "unet/model.onnx", "clip/vision_model.onnx",
                  "llm/embed_tokens.onnx")


def compare_encoders(pack: Path, work: Path, recipe: str, quick: bool) -> tuple[list[str], list[str]]:
    """Exports the encoders trained in a work folder (stages data … unet) to a temporary folder and compares
    them, and the latent scale, with the pack's."""
    # torch and the training code load only for --work: comparing two packs needs neither
    from twinlens_train.mini_world.export import export_encoders
    from twinlens_train.mini_world.recipe import Ctx

    with tempfile.TemporaryDirectory(prefix="twinlens-encoders-") as tmp:
        c = Ctx(quick, tmp, str(work.resolve()), recipe)
        scale = export_encoders(c, tmp)
        checked, problems = [], []
        for rel in ENCODER_GRAPHS:
            checked.append(rel)
            problems += [f"{rel}: {p}" for p in compare_graph(pack / rel, Path(tmp) / rel)]
    shipped = json.loads((pack / "pack.json").read_text())["diffusion"]["latentScale"]
    checked.append("pack.json latentScale")
    if round(scale, 6) != shipped:  # pack.json keeps 6 decimals
        problems.append(f"pack.json: latentScale {shipped} vs {round(scale, 6)}")
    return checked, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path, help="a pack folder, e.g. models/mini-world")
    ap.add_argument("second", type=Path, nargs="?", help="the pack to compare it with")
    ap.add_argument("--work", type=Path, help="instead of a second pack: a training work folder whose stages data … "
                                              "unet are done; compares the encoders they trained")
    ap.add_argument("--recipe", default=None, help="the work folder's recipe (default: the shipped one)")
    ap.add_argument("--quick", action="store_true", help="the work folder is a --quick run")
    args = ap.parse_args(argv)
    if (args.second is None) == (args.work is None):
        print("pass either a second pack folder or --work <training work folder>", file=sys.stderr)
        return 2
    for p in (args.first, args.second):
        if p is not None and not (p / "pack.json").is_file():
            print(f"{p} is not a pack folder (no pack.json); pass the folder that holds pack.json", file=sys.stderr)
            return 2
    if args.work is not None:
        missing = [f for f in ("llm0.pt", "clip.pt", "vae.pt", "unet.pt") if not (args.work / f).is_file()]
        if missing:
            print(f"{args.work} has no {', '.join(missing)}: run stages data … unet there first", file=sys.stderr)
            return 2
        from twinlens_train.mini_world.recipe import RECIPES, SHIPPED_RECIPE

        if args.recipe is not None and args.recipe not in RECIPES:
            print(f"unknown recipe {args.recipe}; the recipes are {', '.join(sorted(RECIPES))}", file=sys.stderr)
            return 2
        checked, problems = compare_encoders(args.first, args.work, args.recipe or SHIPPED_RECIPE, args.quick)
    else:
        checked, problems = compare_packs(args.first, args.second)
    print(f"compared {len(checked)} files: {', '.join(checked)}")
    for p in problems:
        print("DIFFERS", p)
    print("identical" if not problems else f"{len(problems)} differences")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
