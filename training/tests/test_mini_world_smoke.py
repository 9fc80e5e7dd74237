"""Smoke test of the mini-world training: every stage for a few steps (--quick), an ONNX
export, and (when node_modules is installed) `twinlens packs validate` on the result."""
import json
import os
import shutil
import subprocess
import sys

from conftest import REPO


def test_quick_pipeline_exports_a_valid_pack(tmp_path):
    work, pack = tmp_path / "work", tmp_path / "pack"
    has_engine = shutil.which("npx") and os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node"))
    # stage report runs the TypeScript engine; without node_modules every other stage still runs
    stages = [] if has_engine else [a for s in ["data", "llm", "clip", "vae", "unet", "features", "align", "tune",
                                                "pairdata", "pairs", "export", "eval"] for a in ("--stage", s)]
    r = subprocess.run([sys.executable, "-m", "twinlens_train.mini_world.train", "--quick", "--work", str(work),
                        "--pack", str(pack)] + stages, cwd=os.path.join(REPO, "training"), capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # stage 2 ran in the two default worker processes, each training its own modes
    workers = [open(work / f"tune-worker{i}.log").read() for i in range(2)]
    assert "tune[fused]" in workers[0] and "tune[clip]" in workers[1] and "tune[clip]" not in workers[0]
    # stage 3 (the quick recipe has pair_steps > 0): every mode continued from stage 2 on pairs, in the same
    # two workers, and the export read those checkpoints
    workers = [open(work / f"pairs-worker{i}.log").read() for i in range(2)]
    assert "pairs[fused]" in workers[0] and "pairs[clip]" in workers[1]
    assert all(os.path.isfile(work / f"pairs-{m}.pt") for m in ("clip", "diffusion", "fused", "fused-xattn", "leaky"))
    m = json.load(open(pack / "pack.json"))
    assert set(m["modes"]) == {"clip", "diffusion", "fused", "fused-xattn", "leaky"}
    assert m["modes"]["leaky"]["extra"] is True
    assert m["diffusion"]["family"] == "mini-world" and m["diffusion"]["imageSize"] == 64
    for name in ("mini-world-test.jsonl", "mini-world-pairs.jsonl", "mini-world-all.jsonl"):
        lines = [json.loads(x) for x in open(pack / "suites" / name)]
        assert lines and all(os.path.isfile(pack / "suites" / x["image"]) for x in lines)
        assert all({"id", "image", "question", "answer", "category"} <= set(x) for x in lines)
    ev = json.load(open(pack / "eval-python.json"))
    assert set(ev["modes"]) == set(m["modes"])
    # the encoders exported again from the work folder are the pack's, weight for weight (compare_packs --work)
    from twinlens_train.mini_world import compare_packs
    checked, problems = compare_packs.compare_encoders(pack, work, "v3", quick=True)
    assert problems == [] and len(checked) == 6
    # a partial evaluation (some modes, results elsewhere) gives those modes' numbers and leaves the pack alone
    out = tmp_path / "partial.json"
    sub = subprocess.run([sys.executable, "-m", "twinlens_train.mini_world.eval_reference", "--quick", "--work",
                          str(work), "--pack", str(pack), "--modes", "clip,fused", "--out", str(out)],
                         cwd=os.path.join(REPO, "training"), capture_output=True, text=True)
    assert sub.returncode == 0, sub.stdout[-3000:] + sub.stderr[-3000:]
    part = json.load(open(out))["modes"]
    assert set(part) == {"clip", "fused"} and all(part[k] == ev["modes"][k] for k in part)
    assert json.load(open(pack / "eval-python.json")) == ev
    if shutil.which("npx") and os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node")):
        v = subprocess.run(["npx", "twinlens", "packs", "validate", str(pack)], cwd=REPO, capture_output=True,
                           text=True)
        assert v.returncode == 0, v.stdout[-3000:] + v.stderr[-3000:]

    if not has_engine:
        return
    # stage report: the TS engine's eval, leakage, agreement and the bounds, all on the exported pack
    for name in ("eval.json", "eval-pairs.json", "eval-s.json", "leakage.json", "prompt-effect.json", "agreement.json",
                 "bounds.json"):
        assert os.path.isfile(pack / name), name
    pe = json.load(open(pack / "prompt-effect.json"))["taps"]  # the quick recipe's tap and the cross-attention query
    assert set(pe) == {"U-L2-R2-Res-Out", "U-L1-R1-B0-Cross-Q"} and all(0 < v["own caption"] for v in pe.values())
    rep = json.load(open(pack / "bounds.json"))
    # its three parts started in the background: the blind reader right after stage llm (before the encoders),
    # the oracle reader and the probes after stage features; report waited for them and merged them
    log = r.stdout
    assert log.index("bounds[blind] in the background") < log.index("stage clip: start")
    for part in ("oracle", "probes"):  # the oracle reader waits for stage features, leaving the blind one a core
        assert log.index("stage features: start") < log.index(f"bounds[{part}] in the background") < \
            log.index("stage align: start")
    assert all(os.path.isfile(work / f"bounds-{p}.json") for p in ("blind", "oracle", "probes"))
    assert {"blind", "oracle", "majority (no training)"} <= set(rep["readers"])
    assert rep["readers"]["oracle"]["all"]["n"] > 0 and rep["readers"]["oracle"]["steps"] == 3
    assert {"chance", "clip", "pixels", "unet t=50"} <= set(rep["probes"])
    # the bounds read the modes' own prompt layout (image after the question): no variant reader was built
    assert rep["readers"]["oracle"]["llm"].endswith("image after the question")
    assert not [n for n in os.listdir(work) if n.startswith("reader-")]
    # and are scored on the held-out test split and pairs as well
    assert rep["readers"]["oracle"]["heldout"]["test"]["all"]["n"] == 12 and rep["readers"]["blind"]["heldout"]["pairs"]["n"] == 4
    # the tap experiment behind recipe v3 runs on a finished work folder (validation only)
    r = subprocess.run([sys.executable, "-m", "twinlens_train.mini_world.tap_experiment", "--quick", "--base", str(work),
                        "--unet", str(work / "unet.pt"), "--tap", "U-L1-R1-B0-Cross-Q", "--steps", "2",
                        "--out", str(tmp_path / "tap")], cwd=os.path.join(REPO, "training"), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.load(open(tmp_path / "tap" / "tap-experiment.json"))
    assert res["tap"] == "U-L1-R1-B0-Cross-Q" and res["pairs"] > 0 and 0 <= res["pair_acc"] <= 100
    # a per-mode stage is done only when every mode's checkpoint is there, whatever its marker says (a worker
    # that finished first used to write it): a lost checkpoint is trained again, the others are kept
    os.remove(work / "tune-leaky.pt")
    kept = os.path.getmtime(work / "tune-clip.pt")
    r = subprocess.run([sys.executable, "-m", "twinlens_train.mini_world.train", "--quick", "--work", str(work),
                        "--pack", str(pack), "--stage", "tune"], cwd=os.path.join(REPO, "training"),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert os.path.isfile(work / "tune-leaky.pt") and os.path.getmtime(work / "tune-clip.pt") == kept
