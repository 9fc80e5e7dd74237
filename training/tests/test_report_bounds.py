"""Stage report's bounds parts: when a part may be reused, and when it must run again."""
import os
import types

from twinlens_train.mini_world import report


def _touch(path, t):
    with open(path, "w") as f:
        f.write("{}")
    os.utime(path, (t, t))


def test_a_part_is_fresh_only_while_newer_than_every_input(tmp_path):
    c = types.SimpleNamespace(work=str(tmp_path))
    assert report._part_state(c, "blind") == "waiting"  # no stage-0 LLM yet
    _touch(tmp_path / "data.json", 100)
    _touch(tmp_path / "llm0.pt", 100)
    assert report._part_state(c, "blind") == "ready"  # inputs there, part missing
    _touch(tmp_path / "bounds-blind.json", 200)
    assert report._part_state(c, "blind") == "fresh"
    _touch(tmp_path / "llm0.pt", 300)  # stage llm rerun (--force): the reader must run again
    assert report._part_state(c, "blind") == "ready"
    # the probes read the encoders: a retrained UNet makes them stale, the readers do not care
    for f in ("clip.pt", "vae.pt", "unet.pt", "features.npz"):
        _touch(tmp_path / f, 100)
    _touch(tmp_path / "bounds-probes.json", 400)
    _touch(tmp_path / "bounds-oracle.json", 400)
    _touch(tmp_path / "unet.pt", 500)
    assert report._part_state(c, "probes") == "ready" and report._part_state(c, "oracle") == "fresh"


def test_the_oracle_reader_starts_after_stage_features():
    # it needs only data and llm0, but waits so that the blind reader has the idle core while the encoders train
    assert report.BOUNDS_PARTS["oracle"][2] == ("features.npz",) and report.BOUNDS_PARTS["blind"][2] == ()
    assert "features.npz" not in report.BOUNDS_PARTS["oracle"][1]
