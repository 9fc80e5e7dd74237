"""The projectors smoke run, shortened (modes clip and diffusion, few steps): extract -> torchrun x2 stage 1 + 2 ->
export -> packs import -> twinlens ask --mode all agrees with PyTorch greedy decoding. Two modes, so the one
composed pack holds two tuned LLMs. The full run (four modes, 150 stage-2 steps) is `npm run train:projectors:smoke`."""
import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # training/


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_short_smoke_run(tmp_path):
    cmd = [sys.executable, "-m", "twinlens_train.llava.smoke", "--work", str(tmp_path / "w"),
           "--modes", "clip,diffusion", "--scenes", "4", "--steps1", "2", "--steps2", "40", "--items", "2"]
    r = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    assert doc["ok"] and doc["agreement"] == {"clip": 1.0, "diffusion": 1.0}
    # one pack, each mode answering with the decoder its own stage 2 tuned
    assert doc["pack"]["decoders"] == {"clip": "llm/clip/decoder_model_merged.onnx",
                                       "diffusion": "llm/diffusion/decoder_model_merged.onnx"}
    assert doc["steps"]["clip"] == {"stage1": 2, "stage2": 40}
    assert doc["losses"]["clip"]["stage2"]["last"] < doc["losses"]["clip"]["stage2"]["first"]
