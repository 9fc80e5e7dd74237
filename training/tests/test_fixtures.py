"""Consistency of the committed fixture packs (no model runs; see twinlens_train/fixtures/verify.py for ORT checks)."""
import json
import os

import numpy as np
import onnx
import pytest

from conftest import REPO
from twinlens_train.export import sha256_file

PACKS = os.path.join(REPO, "test/fixtures/packs")


def _refs(m):
    d = m.get("diffusion", {})
    for k in ("vaeEncoder", "textEncoder", "unet"):
        if k in d:
            yield d[k]
    if "clip" in m:
        yield m["clip"]["vision"]
    if "llm" in m:
        yield m["llm"]["embedTokens"]
        yield m["llm"]["decoder"]
    for mode in m.get("modes", {}).values():
        yield from mode["projectors"].values()


@pytest.mark.parametrize("name", ["tiny", "tiny-fp16"])
def test_pack_files_and_goldens(name):
    pdir = os.path.join(PACKS, name)
    m = json.load(open(os.path.join(pdir, "pack.json")))
    assert m["format"] == "twinlens-pack" and m["version"] == 1
    for r in _refs(m):
        assert os.path.isfile(os.path.join(pdir, r["path"])), r
        if name == "tiny":
            assert r["sha256"] == sha256_file(os.path.join(pdir, r["path"])), r["path"]
    for k in ("tokenizer", "scheduler"):
        assert os.path.isfile(os.path.join(pdir, m["diffusion"][k]))
    unet = onnx.load(os.path.join(pdir, "unet/model.onnx"), load_external_data=False)
    assert [o.name for o in unet.graph.output] == ["out_sample"]
    g = json.load(open(os.path.join(pdir, "golden/golden.json")))
    assert os.path.isfile(os.path.join(pdir, "golden", g["image_from_golden_dir"]))
    for t in g["tensors"].values():
        a = np.load(os.path.join(pdir, "golden", t["file"]))
        assert a.dtype == np.float32 and list(a.shape) == t["shape"]
    if name == "tiny":
        assert set(g["modes"]) == set(m["modes"]) == {"clip", "diffusion", "fused", "fused-xattn"}
    else:
        assert "llm" not in m and not m.get("modes")
