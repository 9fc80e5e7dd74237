"""Projector export of trained runs: the ONNX files compute what the PyTorch projectors compute, the
folder carries the feature manifest's diffusion settings, and the TS engine's `packs import`
accepts it and builds the answer modes from it (clip, diffusion, fused concat, fused-xattn)."""
import json
import os
import shutil
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
import torch

from twinlens_train.llava.data import read_datasets
from twinlens_train.llava.export import ExportError, export_projectors, load_projectors
from twinlens_train.llava.make_dataset import make_dataset
from twinlens_train.llava.tiny import build_tiny_llm, random_features
from twinlens_train.llava.train import main as train_main

from conftest import REPO

FAMILIES = os.path.join(REPO, "test", "fixtures", "families")
# The family fixtures' widths: CLIP penultimate 32, SD 1.5 U-L1-R1-B0-Cross-Q 16, LLM hidden 32.
CLIP_SHAPE, DIFF_SHAPE = (4, 32), (6, 16)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava-export")
    make_dataset(str(root / "data"), scenes=4, seed=2)
    ex, _ = read_datasets([str(root / "data" / "pretrain.json")])
    random_features(ex, str(root / "feat"), clip_shape=CLIP_SHAPE, diffusion_shape=DIFF_SHAPE, cond=False)
    build_tiny_llm(str(root / "llm"))
    out = {}
    for mode in ("fused", "fused-xattn"):
        out[mode] = root / f"run-{mode}"
        args = ["--stage", "1", "--mode", mode, "--data", str(root / "data" / "pretrain.json"), "--features",
                str(root / "feat"), "--llm", str(root / "llm"), "--out", str(out[mode]), "--steps", "1",
                "--batch-size", "2", "--micro-batch", "2", "--threads", "1", "--xattn-heads", "4"]
        assert train_main(args) == 0
    return root, out


def _ort(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnx_equals_pytorch_projectors(runs):
    root, run = runs
    proj = root / "proj"
    doc = export_projectors([str(run["fused"]), str(run["fused-xattn"])], str(proj))
    assert {doc[k]["file"] for k in ("clip", "diffusion", "xattn")} == {"clip.onnx", "diffusion.onnx", "xattn.onnx"}
    assert doc["clip"]["inDim"] == 32 and doc["diffusion"]["inDim"] == 16 and doc["xattn"]["inDim"] == [32, 16]
    # stage-1 features: no prompt -> the engine reads them with the empty prompt
    assert doc["diffusion"]["settings"] == {"tap": "random", "t": 50, "guidance": 0.0, "prompt": "empty", "seed": 0}
    g = torch.Generator().manual_seed(0)
    clip = torch.randn(2, 5, 32, generator=g)  # other token counts and batch than the export's dummies
    diff = torch.randn(2, 7, 16, generator=g)
    _, p = load_projectors(str(run["fused"]))
    _, px = load_projectors(str(run["fused-xattn"]))
    assert px["xattn"].heads == 4  # read back from projector.json
    with torch.no_grad():
        want = {"clip": p["clip"](clip), "diffusion": p["diffusion"](diff), "xattn": px["xattn"](clip, diff)}
    got = {"clip": _ort(proj / "clip.onnx").run(["embeds"], {"features": clip.numpy()})[0],
           "diffusion": _ort(proj / "diffusion.onnx").run(["embeds"], {"features": diff.numpy()})[0],
           "xattn": _ort(proj / "xattn.onnx").run(["embeds"], {"clip_features": clip.numpy(),
                                                              "diffusion_features": diff.numpy()})[0]}
    for k in want:
        assert got[k].shape == tuple(want[k].shape)
        np.testing.assert_allclose(got[k], want[k].numpy(), rtol=1e-5, atol=1e-5)
    # two runs that both write clip.onnx are refused
    with pytest.raises(ExportError, match="already exported"):
        export_projectors([str(run["fused"]), str(run["fused"])], str(root / "proj-dup"))


def test_cli_fp16(runs):
    root, run = runs
    from twinlens_train.llava.export import main
    assert main(["--run", str(run["fused"]), "--out", str(root / "proj16"), "--fp16"]) == 0
    _, p = load_projectors(str(run["fused"]))
    x = torch.randn(1, 3, 32)
    got = _ort(root / "proj16" / "clip.onnx").run(["embeds"], {"features": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, p["clip"](x).numpy(), atol=5e-2)


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_engine_imports_the_projectors(runs):
    root, run = runs
    proj = root / "proj-engine"
    export_projectors([str(run["fused"]), str(run["fused-xattn"])], str(proj))
    # the engine resolves the tap alias: record the SD fixture's own tap instead of the random features' name
    doc = json.load(open(proj / "projectors.json"))
    for k in ("diffusion", "xattn"):
        doc[k]["settings"].update(tap="U-L1-R1-B0-Cross-Q", prompt="question", guidance=4.0)
    json.dump(doc, open(proj / "projectors.json", "w"))
    pack = root / "pack"
    cmd = ["node", os.path.join(REPO, "bin", "twinlens.js"), "packs", "import",
           "--sd", os.path.join(FAMILIES, "sd15-diffusers"), "--clip", os.path.join(FAMILIES, "clip-vit-transformersjs"),
           "--llm", os.path.join(FAMILIES, "llava-qwen-transformersjs"), "--projectors", str(proj),
           "--out", str(pack), "--copy", "--json"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["usable"], rep.get("validation")
    modes = rep["manifest"]["modes"]
    assert {"clip", "diffusion", "fused", "fused-xattn"} <= set(modes)
    assert modes["fused"]["fusion"] == "concat" and modes["fused-xattn"]["fusion"] == "cross-attention"
    assert modes["fused-xattn"]["projectors"] == {"xattn": {"path": "projectors/xattn.onnx"}}
    assert modes["diffusion"]["diffusion"]["guidance"] == 4
    assert not [n for n in rep["notes"] if "Projector" in n]  # widths agree with CLIP and the LLM
