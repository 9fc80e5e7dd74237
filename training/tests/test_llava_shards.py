"""Feature shards: round trip through write_shard (--shard i/n) + finalize + FeatureStore, and
files that do not match the manifest are refused with their name."""
import json
import os

import pytest
import torch

from twinlens_train.llava.shards import (FeatureMeta, FeatureStore, ShardError, finalize_manifest,
                                         parse_shard_spec, write_features, write_shard)

META = FeatureMeta(tap="U-L1-R1-B0-Cross-Q", t=50, s=4.0, seed=0, prompt_policy="question", clip_shape=(3, 8),
                   diffusion_shape=(4, 5))


def _rows(n):
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        f = {"clip": torch.randn(3, 8, generator=g), "diffusion_uncond": torch.randn(4, 5, generator=g)}
        if i % 2 == 0:
            f["diffusion_cond"] = torch.randn(4, 5, generator=g)
        out.append((f"row-{i}", f))
    return out


def test_round_trip_over_independent_shard_jobs(tmp_path):
    rows = _rows(7)
    table = dict(rows)
    ids = [r for r, _ in rows]
    with pytest.raises(ShardError, match="missing shards"):
        write_shard(str(tmp_path), ids, table.__getitem__, META, parse_shard_spec("2/3"))
        finalize_manifest(str(tmp_path))
    for spec in ("0/3", "1/3"):  # the other jobs of --shard i/3, in any order
        write_shard(str(tmp_path), ids, table.__getitem__, META, parse_shard_spec(spec))
    m = json.load(open(finalize_manifest(str(tmp_path))))
    assert m["version"] == 1 and m["tap"] == "U-L1-R1-B0-Cross-Q" and m["t"] == 50 and m["s"] == 4.0
    assert m["features"] == {"clip": [3, 8], "diffusion": [4, 5]} and m["prompt_policy"] == "question"
    assert [s["file"] for s in m["shards"]] == [f"shard-0000{i}-of-00003.safetensors" for i in range(3)]
    assert m["shards"][1]["rows"] == ids[1::3]
    store = FeatureStore(str(tmp_path))
    assert len(store) == 7 and "row-6" in store and "row-9" not in store
    for rid, f in rows:
        for kind, t in f.items():
            assert torch.equal(store.get(rid, kind), t)
        assert store.has(rid, "diffusion_cond") == ("diffusion_cond" in f)
    with pytest.raises(KeyError):
        store.get("row-9", "clip")


def test_float16_storage_reads_back_float32(tmp_path):
    rows = _rows(2)
    write_shard(str(tmp_path), ["row-0", "row-1"], dict(rows).__getitem__, META, (0, 1), dtype=torch.float16)
    finalize_manifest(str(tmp_path))
    t = FeatureStore(str(tmp_path)).get("row-0", "clip")
    assert t.dtype == torch.float32 and torch.allclose(t, rows[0][1]["clip"], atol=1e-2)


def test_tampered_shard_is_refused_naming_the_file(tmp_path):
    write_features(str(tmp_path), _rows(4), META, n_shards=2)
    victim = tmp_path / "shard-00001-of-00002.safetensors"
    raw = bytearray(victim.read_bytes())
    raw[-3] ^= 0xFF  # one flipped byte in the tensor data
    victim.write_bytes(bytes(raw))
    with pytest.raises(ShardError, match="shard-00001-of-00002.safetensors.*sha256"):
        FeatureStore(str(tmp_path))
    os.remove(victim)
    with pytest.raises(ShardError, match="shard-00001-of-00002.safetensors.*missing"):
        FeatureStore(str(tmp_path))


def test_shape_that_disagrees_with_the_manifest_is_refused(tmp_path):
    write_features(str(tmp_path), _rows(2), META)
    mpath = tmp_path / "manifest.json"
    m = json.loads(mpath.read_text())
    m["features"]["diffusion"] = [4, 6]  # e.g. features of another tap
    mpath.write_text(json.dumps(m))
    with pytest.raises(ShardError, match=r"shard-00000-of-00001.safetensors: row-0/diffusion_uncond has shape \[4, 5\]"):
        FeatureStore(str(tmp_path))


def test_writer_checks_shapes_and_specs(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        write_shard(str(tmp_path), ["a"], lambda r: {"clip": torch.zeros(2, 8), "diffusion_uncond": torch.zeros(4, 5)},
                    META)
    with pytest.raises(ValueError, match="i/n"):
        parse_shard_spec("3")
    with pytest.raises(ValueError, match="0 <= i < n"):
        parse_shard_spec("3/3")
