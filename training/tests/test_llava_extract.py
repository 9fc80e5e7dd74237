"""`twinlens extract` (the TS engine) writes feature shards the Python trainer reads: 2 shards on the
tiny fixture pack -> FeatureStore opens the merged manifest (sha256 and shapes checked); a row's
tensors equal what `twinlens features` writes for that image and question; a rerun skips a finished
shard; stage 1 stores no conditional features; prompt dropout is seeded per row."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from twinlens_train.llava.data import read_datasets
from twinlens_train.llava.shards import FeatureStore

from conftest import REPO

pytestmark = pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
PACK = os.path.join(REPO, "test", "fixtures", "packs", "tiny")
SUITE = os.path.join(REPO, "test", "fixtures", "suites", "tiny-shapes.jsonl")


def twinlens(*args, timeout=240):
    r = subprocess.run(["node", os.path.join(REPO, "bin", "twinlens.js"), *args], cwd=REPO, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return json.loads(r.stdout) if "--json" in args else r.stdout


@pytest.fixture(scope="module")
def stage2(tmp_path_factory):
    out = tmp_path_factory.mktemp("extract") / "feat2"
    common = ["extract", "--pack", PACK, "--data", SUITE, "--out", str(out), "--stage", "2", "--prompt-dropout", "0.5",
              "--seed", "1", "--provider", "cpu", "--json"]
    first = twinlens(*common, "--shard", "0/2")
    assert first["manifest"] is None  # shard 1 is not there yet
    second = twinlens(*common, "--shard", "1/2")
    assert second["manifest"] == str(out / "manifest.json")
    return out, first, second


def test_feature_store_opens_the_merged_manifest(stage2):
    out, first, second = stage2
    store = FeatureStore(str(out), verify=True)
    ex, _ = read_datasets([SUITE])  # the Python reader: the same row ids (non-string answers dropped by both)
    assert sorted(store.rows()) == sorted(e.id for e in ex)
    assert store.meta["prompt_policy"] == "question" and store.meta["tap"] == "U-L1-R1-B0-Cross-Q"
    assert store.meta["t"] == 50 and store.meta["s"] == 4 and store.shapes == {"clip": (16, 32), "diffusion": (16, 24)}
    ids = [e.id for e in ex]
    assert first["rows"] + second["rows"] == len(ids)
    assert store.manifest["shards"][0]["rows"] == ids[0::2] and store.manifest["shards"][1]["rows"] == ids[1::2]
    cond = [r for r in ids if store.has(r, "diffusion_cond")]
    assert 0 < len(cond) < len(ids)  # seeded dropout at 0.5 left some rows unprompted


def test_rows_equal_twinlens_features(stage2, tmp_path):
    out, _, _ = stage2
    store = FeatureStore(str(out))
    ex = {e.id: e for e in read_datasets([SUITE])[0]}
    rid = next(r for r in store.rows() if store.has(r, "diffusion_cond"))
    question = ex[rid].turns[0][0].replace("<image>", "").strip()
    res = twinlens("features", "--pack", PACK, "--image", ex[rid].image, "--question", question, "--clip", "--branches", "--seed", "1",
                   "--out", str(tmp_path), "--provider", "cpu", "--json")
    files = {os.path.basename(f): np.load(f) for f in res["written"]}
    tap = "U-L1-R1-B0-Cross-Q"
    np.testing.assert_array_equal(store.get(rid, "clip").numpy(), files["clip.npy"])
    np.testing.assert_array_equal(store.get(rid, "diffusion_cond").numpy(), files[f"{tap}_t50_s4.npy"])
    np.testing.assert_array_equal(store.get(rid, "diffusion_uncond").numpy(), files[f"{tap}_t50_uncond.npy"])


def test_rerun_skips_a_finished_shard(stage2):
    out, _, _ = stage2
    before = os.path.getmtime(out / "shard-00000-of-00002.safetensors")
    again = twinlens("extract", "--pack", PACK, "--data", SUITE, "--out", str(out), "--stage", "2", "--prompt-dropout",
                     "0.5", "--seed", "1", "--shard", "0/2", "--json")
    assert again["skippedShard"] is True
    assert os.path.getmtime(out / "shard-00000-of-00002.safetensors") == before
    r = subprocess.run(["node", os.path.join(REPO, "bin", "twinlens.js"), "extract", "--pack", PACK, "--data", SUITE,
                        "--out", str(out), "--stage", "1", "--shard", "0/2"], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "another --out" in r.stderr


def test_killed_shard_resumes_to_the_same_bytes(stage2, tmp_path):
    """A job killed after 2 rows, rerun: continues after the journalled rows; the shard is byte-identical
    to the uninterrupted one."""
    out = tmp_path / "killed"
    args = ["extract", "--pack", PACK, "--data", SUITE, "--out", str(out), "--stage", "2", "--prompt-dropout", "0.5",
            "--seed", "1", "--shard", "0/2", "--provider", "cpu", "--json"]
    r = subprocess.run(["node", os.path.join(REPO, "bin", "twinlens.js"), *args, "--stop-after-rows", "2"], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr[-2000:]
    assert not (out / "shard-00000-of-00002.safetensors").exists()
    res = twinlens(*args)
    assert res["resumed"] == 2 and res["rows"] == 4
    name = "shard-00000-of-00002.safetensors"
    assert (out / name).read_bytes() == (stage2[0] / name).read_bytes()
    assert not [f for f in os.listdir(out) if ".tmp" in f]


def test_stage1_has_no_prompt_float16(stage2, tmp_path):
    out = tmp_path / "feat1"
    res = twinlens("extract", "--pack", PACK, "--data", SUITE, "--out", str(out), "--stage", "1", "--limit", "2",
                   "--dtype", "float16", "--provider", "cpu", "--json")
    assert res["manifest"] == str(out / "manifest.json")
    store = FeatureStore(str(out))
    assert store.meta["prompt_policy"] == "none" and store.meta["s"] == 0 and store.meta["dtype"] == "float16"
    assert len(store) == 2 and not any(store.has(r, "diffusion_cond") for r in store.rows())
    # stored as F16, read back as float32: CLIP tokens (no noise, no prompt) equal the float32 extraction's
    full = FeatureStore(str(stage2[0]))
    rid = store.rows()[0]
    a, b = store.get(rid, "clip"), full.get(rid, "clip")
    assert a.dtype == b.dtype and float((a - b).abs().max()) <= 1e-3 * float(b.abs().max()) + 1e-3


def test_undecodable_image_costs_only_its_row(tmp_path):
    shutil.copy(os.path.join(REPO, "test", "fixtures", "images", "sample.png"), tmp_path / "good.png")
    (tmp_path / "bad.png").write_text("not a png")
    conv = [{"from": "human", "value": "<image>\nwhat colour is the circle"}, {"from": "gpt", "value": "red"}]
    rows = [{"id": "good", "image": "good.png", "conversations": conv},
            {"id": "bad", "image": "bad.png", "conversations": conv},
            {"id": "text", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    res = twinlens("extract", "--pack", PACK, "--data", str(tmp_path / "d.json"), "--out", str(tmp_path / "f"),
                   "--provider", "cpu", "--json")
    assert res["rows"] == 1 and res["textOnly"] == 1
    assert [f["id"] for f in res["failed"]] == ["bad"] and res["failed"][0]["reason"].startswith("IMAGE_DECODE_FAILED")
    store = FeatureStore(str(tmp_path / "f"))
    assert store.rows() == ["good"] and store.manifest["shards"][0]["skipped"][0]["id"] == "bad"
