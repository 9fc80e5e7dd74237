"""LLM export in the transformers.js layout: the ONNX decoder (fed inputs_embeds and its own KV cache)
gives the PyTorch Qwen2's logits for a prefill and two cached decode steps, fp32 and fp16 weights; the
folder carries the image token, chat template and stop token, and the engine's importer accepts it."""
import json
import os
import shutil
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
import torch

from twinlens_train.llava.export_llm import main as export_main
from twinlens_train.llava.tiny import build_tiny_llm

from conftest import REPO

FAMILIES = os.path.join(REPO, "test", "fixtures", "families")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava-llm")
    build_tiny_llm(str(root / "llm"), seed=4)
    assert export_main(["--llm", str(root / "llm"), "--out", str(root / "x"), "--fp16"]) == 0
    assert export_main(["--llm", str(root / "llm"), "--out", str(root / "xe"), "--external-data", "yes"]) == 0
    return root


def _greedy_check(root, suffix, atol, folder="x"):
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(str(root / "llm"), dtype=torch.float32).eval()
    cfg = lm.config
    emb = ort.InferenceSession(str(root / folder / "onnx" / f"embed_tokens{suffix}.onnx"))
    dec = ort.InferenceSession(str(root / folder / "onnx" / f"decoder_model_merged{suffix}.onnx"))
    names = [o.name for o in dec.get_outputs()]
    hd = cfg.hidden_size // cfg.num_attention_heads
    ids = torch.tensor([[5, 9, 12, 3, 7, 20, 11]])
    e = emb.run(None, {"input_ids": ids.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(e, lm.get_input_embeddings()(ids).numpy(), atol=atol)
        # splice "visual tokens" into the embeddings as the engine does: rows 2..4 replaced
        vis = torch.randn(1, 3, cfg.hidden_size, generator=torch.Generator().manual_seed(1))
    e[:, 2:5] = vis.numpy()
    feeds = {"inputs_embeds": e, "attention_mask": np.ones((1, 7), np.int64),
             "position_ids": np.arange(7, dtype=np.int64)[None]}
    for i in range(cfg.num_hidden_layers):
        for k in ("key", "value"):
            feeds[f"past_key_values.{i}.{k}"] = np.zeros((1, cfg.num_key_value_heads, 0, hd), np.float32)
    out = dict(zip(names, dec.run(None, feeds)))
    embeds = torch.from_numpy(e.copy())
    with torch.no_grad():
        ref = lm(inputs_embeds=embeds).logits
    np.testing.assert_allclose(out["logits"], ref.numpy(), atol=atol)
    for step in range(2):
        nxt = torch.tensor([[int(out["logits"][0, -1].argmax())]])
        with torch.no_grad():
            embeds = torch.cat([embeds, lm.get_input_embeddings()(nxt)], 1)
            ref = lm(inputs_embeds=embeds).logits[:, -1:]
        total = embeds.shape[1]
        feeds = {"inputs_embeds": emb.run(None, {"input_ids": nxt.numpy()})[0],
                 "attention_mask": np.ones((1, total), np.int64), "position_ids": np.array([[total - 1]], np.int64)}
        for i in range(cfg.num_hidden_layers):
            for k in ("key", "value"):
                feeds[f"past_key_values.{i}.{k}"] = out[f"present.{i}.{k}"]
        out = dict(zip(names, dec.run(None, feeds)))
        assert out["logits"].shape == (1, 1, cfg.vocab_size) and out["present.0.key"].shape[2] == total
        np.testing.assert_allclose(out["logits"], ref.numpy(), atol=atol)


def test_decoder_logits_equal_pytorch_fp32(exported):
    _greedy_check(exported, "", 1e-5)


def test_decoder_logits_equal_pytorch_fp16_weights(exported):
    _greedy_check(exported, "_fp16", 5e-2)


def test_external_data_layout(exported):
    """The >2 GB path (graph through a file, weights in one <name>.onnx_data), forced on the tiny model."""
    files = sorted(os.listdir(exported / "xe" / "onnx"))
    assert files == ["decoder_model_merged.onnx", "decoder_model_merged.onnx_data", "embed_tokens.onnx",
                     "embed_tokens.onnx_data"]
    assert os.path.getsize(exported / "xe" / "onnx" / "decoder_model_merged.onnx") < \
        os.path.getsize(exported / "x" / "onnx" / "decoder_model_merged.onnx")
    _greedy_check(exported, "", 1e-5, folder="xe")


def test_padded_batch_matches_unpadded(exported):
    """Left padding in a batch of 2 (attention_mask 0s) gives the unpadded row's logits."""
    x = exported / "x"
    dec = ort.InferenceSession(str(x / "onnx" / "decoder_model_merged.onnx"))
    cfg = json.load(open(x / "config.json"))
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    g = np.random.default_rng(0)
    e = g.standard_normal((2, 5, cfg["hidden_size"])).astype(np.float32)
    mask = np.ones((2, 5), np.int64)
    mask[1, :2] = 0
    pos = np.array([[0, 1, 2, 3, 4], [0, 0, 0, 1, 2]], np.int64)
    past = {f"past_key_values.{i}.{k}": np.zeros((2, cfg["num_key_value_heads"], 0, hd), np.float32)
            for i in range(cfg["num_hidden_layers"]) for k in ("key", "value")}
    both = dec.run(["logits"], {"inputs_embeds": e, "attention_mask": mask, "position_ids": pos, **past})[0]
    one = dec.run(["logits"], {"inputs_embeds": e[1:, 2:], "attention_mask": mask[1:, 2:],
                               "position_ids": pos[1:, 2:], **{k: v[:1] for k, v in past.items()}})[0]
    np.testing.assert_allclose(both[1, 2:], one[0], atol=1e-5)


def test_folder_files(exported):
    x = exported / "x"
    assert sorted(os.listdir(x / "onnx")) == ["decoder_model_merged.onnx", "decoder_model_merged_fp16.onnx",
                                             "embed_tokens.onnx", "embed_tokens_fp16.onnx"]
    cfg = json.load(open(x / "config.json"))
    tok = json.load(open(x / "tokenizer.json"))
    tcfg = json.load(open(x / "tokenizer_config.json"))
    assert tok["model"]["vocab"]["<image>"] == cfg["image_token_index"]
    assert "<|im_start|>" in tcfg["chat_template"] and tcfg["eos_token"] == "<|im_end|>"
    assert json.load(open(x / "generation_config.json"))["eos_token_id"] == tok["model"]["vocab"]["<|im_end|>"]


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
@pytest.mark.parametrize("folder,variant", [("x", "fp32"), ("x", "fp16"), ("xe", "fp32")])
def test_engine_imports_the_llm(exported, folder, variant):
    cmd = ["node", os.path.join(REPO, "bin", "twinlens.js"), "packs", "import", "--llm", str(exported / folder),
           "--llm-variant", variant, "--clip", os.path.join(FAMILIES, "clip-vit-transformersjs"),
           "--out", str(exported / f"pack-{folder}-{variant}"), "--json"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["usable"], rep.get("validation")
    assert rep["llm"]["variant"] == variant and rep["llm"]["dtype"] == "float32"
    assert rep["llm"]["imageToken"] == "<image>" and rep["llm"]["numLayers"] == 2 and rep["llm"]["numKvHeads"] == 2
    assert "<|im_end|>" in rep["llm"]["stopTokens"]
