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
    r = subprocess.run([sys.executable, "training/train_mini_world.py", "--quick", "--work", str(work),
                        "--pack", str(pack)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # stage 2 ran in the two default worker processes, each training its own modes
    workers = [open(work / f"tune-worker{i}.log").read() for i in range(2)]
    assert "tune[fused]" in workers[0] and "tune[clip]" in workers[1] and "tune[clip]" not in workers[0]
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
    if shutil.which("npx") and os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node")):
        v = subprocess.run(["npx", "twinlens", "packs", "validate", str(pack)], cwd=REPO, capture_output=True,
                           text=True)
        assert v.returncode == 0, v.stdout[-3000:] + v.stderr[-3000:]

    # bounds: blind / oracle readers and probes run on the same work folder and report on validation
    r = subprocess.run([sys.executable, "training/mw_bounds.py", "--work", str(work), "--quick", "--readers",
                        "blind,oracle", "--steps", "3", "--probes", "--t-list", "50", "--probe-images", "30"],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rep = json.load(open(work / "bounds.json"))
    assert set(rep["readers"]) == {"blind", "oracle", "majority (no training)"}
    assert rep["readers"]["oracle"]["all"]["n"] > 0 and rep["readers"]["oracle"]["steps"] == 3
    assert {"chance", "clip", "pixels", "unet t=50"} <= set(rep["probes"])
