"""A (tuned) causal LM folder (`save_pretrained`, e.g. a stage-2 run's `llm/`) -> the transformers.js
LLM layout that `twinlens packs import --llm DIR` reads (REFERENCE §A3.2, src/engine/llm/decoder-io.ts):

    config.json              the model's config + image_token_index (the <image> placeholder id)
    generation_config.json   eos/bos/pad ids
    tokenizer.json, tokenizer_config.json (with chat_template inline), special_tokens_map.json
    onnx/embed_tokens.onnx          input_ids int64 [b,n] -> inputs_embeds [b,n,H]
    onnx/decoder_model_merged.onnx  inputs_embeds [b,n,H], attention_mask int64 [b,past+n],
                                    position_ids int64 [b,n], past_key_values.{i}.key/value
                                    [b,kvHeads,past,headDim] -> logits [b,n,V], present.{i}.key/value
    onnx/*_fp16.onnx                (--fp16) float16 weights, float32 inputs/outputs and cache

    python -m twinlens_train.llava.export_llm --llm RUN/llm --out LLM_DIR [--fp16]

Why torch.onnx.export of a wrapper and not Optimum: optimum-onnx's `text-generation-with-past`
export feeds the decoder `input_ids` (the embedding lookup is inside the graph); its configs have no
`inputs_embeds` variant for decoder-only LMs, and visual tokens can only be spliced into embeddings.
The wrapper calls the transformers model itself (eager attention, a DynamicCache built from the flat
past inputs), so the graph computes exactly the PyTorch model's maths; the test compares logits for
a prefill and two cached decode steps. The TorchScript exporter (dynamo=False) is used because it
handles the 0-length past of the first step with plain dynamic axes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings
from typing import List, Optional

import onnx
import torch
from torch import nn

from ..export import export_onnx, initializers_to_fp16
from .data import IMAGE_TOKEN


class EmbedTokens(nn.Module):
    def __init__(self, emb: nn.Module):
        super().__init__()
        self.emb = emb

    def forward(self, input_ids):
        return self.emb(input_ids)


class MergedDecoder(nn.Module):
    """inputs_embeds, attention_mask, position_ids, past k/v (flat) -> logits, present k/v (flat)."""

    def __init__(self, lm: nn.Module, layers: int):
        super().__init__()
        self.lm = lm
        self.layers = layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.lm(inputs_embeds=inputs_embeds, attention_mask=additive_mask(attention_mask, inputs_embeds),
                      position_ids=position_ids,
                      past_key_values=cache, use_cache=True, return_dict=True)
        pkv = out.past_key_values
        flat: List[torch.Tensor] = []
        for i in range(self.layers):
            k, v = _layer_kv(pkv, i)
            flat += [k, v]
        return (out.logits, *flat)


def additive_mask(attention_mask: torch.Tensor, inputs_embeds: torch.Tensor) -> torch.Tensor:
    """[b, past+n] 0/1 mask -> [b, 1, n, past+n] additive causal mask (0 = attend, dtype min = not).

    transformers' own mask builder (masking_utils) uses torch.vmap, which the TorchScript tracer
    cannot record; a 4D mask is passed through by transformers unchanged, so the graph builds it."""
    n = inputs_embeds.shape[1]
    total = attention_mask.shape[1]
    q = torch.arange(n, device=attention_mask.device).unsqueeze(1) + (total - n)
    k = torch.arange(total, device=attention_mask.device).unsqueeze(0)
    allowed = (k <= q).unsqueeze(0).unsqueeze(0) & (attention_mask[:, None, None, :] > 0)
    zero = torch.zeros((), dtype=inputs_embeds.dtype)
    low = torch.full((), torch.finfo(inputs_embeds.dtype).min, dtype=inputs_embeds.dtype)
    return torch.where(allowed, zero, low)


def _layer_kv(cache, i: int):
    if hasattr(cache, "layers"):  # transformers >= 4.56
        return cache.layers[i].keys, cache.layers[i].values
    return cache.key_cache[i], cache.value_cache[i]


def _text_config(cfg):
    return cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg


def _export(module: nn.Module, args: tuple, path: str, inputs: List[str], outputs: List[str], dyn: dict, opset: int,
            fp16: bool, external: bool) -> None:
    post = initializers_to_fp16 if fp16 else None
    if not external:
        export_onnx(module, args, path, inputs, outputs, dyn, opset=opset, post=post)
        return
    # Past protobuf's 2 GB limit the graph cannot go through memory (export_onnx's BytesIO): the TorchScript
    # exporter writes a file (weights as external files when large), onnx.load reads them back, and the weights
    # are saved as ONE <name>.onnx_data next to the graph, the transformers.js / Optimum naming.
    parts = tempfile.mkdtemp(prefix=".export-", dir=os.path.dirname(path))
    try:
        tmp = os.path.join(parts, "model.onnx")
        module.eval()
        with torch.no_grad():
            torch.onnx.export(module, args, tmp, input_names=inputs, output_names=outputs, dynamic_axes=dyn,
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        model = onnx.load(tmp)
        if post is not None:
            model = post(model) or model
        data = os.path.basename(path) + "_data"
        if os.path.exists(os.path.join(os.path.dirname(path), data)):
            os.remove(os.path.join(os.path.dirname(path), data))  # onnx appends to an existing data file
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                        size_threshold=1024, convert_attribute=False)
        onnx.checker.check_model(path)  # by path: the checker reads external data itself
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def export_llm(llm_dir: str, out: str, fp16: bool = False, opset: int = 17, external: Optional[bool] = None) -> dict:
    """external: weights in <name>.onnx_data files (default: when the weights exceed ~1.8 GB)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(llm_dir)
    lm = AutoModelForCausalLM.from_pretrained(llm_dir, dtype=torch.float32, attn_implementation="eager")
    lm.eval()
    tc = _text_config(lm.config)
    layers, kv_heads = tc.num_hidden_layers, tc.num_key_value_heads
    head_dim = getattr(tc, "head_dim", None) or tc.hidden_size // tc.num_attention_heads
    hidden = tc.hidden_size
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    suffix = "_fp16" if fp16 else ""
    if external is None:
        external = sum(p.numel() for p in lm.parameters()) * 4 > 1_800_000_000

    name = f"embed_tokens{suffix}"
    _export(EmbedTokens(lm.get_input_embeddings()), (torch.zeros(1, 3, dtype=torch.long),),
            os.path.join(out, "onnx", name + ".onnx"), ["input_ids"], ["inputs_embeds"],
            {"input_ids": {0: "batch_size", 1: "sequence_length"},
             "inputs_embeds": {0: "batch_size", 1: "sequence_length"}}, opset, fp16, external)

    # Trace with a non-empty past and several new positions so no size is baked in as a constant.
    past_len, n = 3, 2
    past_names, present_names, dyn = [], [], {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"}}
    past = []
    for i in range(layers):
        for kind in ("key", "value"):
            past_names.append(f"past_key_values.{i}.{kind}")
            present_names.append(f"present.{i}.{kind}")
            dyn[past_names[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            dyn[present_names[-1]] = {0: "batch_size", 2: "total_sequence_length"}
            past.append(torch.randn(1, kv_heads, past_len, head_dim) * 0.1)
    args = (torch.randn(1, n, hidden) * 0.1, torch.ones(1, past_len + n, dtype=torch.long),
            torch.arange(past_len, past_len + n).unsqueeze(0), *past)
    name = f"decoder_model_merged{suffix}"
    with warnings.catch_warnings():
        # DynamicCache's lazy init and emptiness check are traced as constants; harmless here because
        # every layer's cache is initialised from the past inputs, which the test covers at past = 0.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        _export(MergedDecoder(lm, layers), args, os.path.join(out, "onnx", name + ".onnx"),
                ["inputs_embeds", "attention_mask", "position_ids", *past_names], ["logits", *present_names], dyn,
                opset, fp16, external)
    _write_configs(lm, tok, out, fp16)
    return {"layers": layers, "kv_heads": kv_heads, "head_dim": head_dim, "hidden": hidden,
            "vocab": tc.vocab_size, "files": sorted(os.listdir(os.path.join(out, "onnx")))}


def _write_configs(lm, tok, out: str, fp16: bool) -> None:
    cfg = lm.config.to_dict()
    img = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    if img is not None and img != tok.unk_token_id:
        cfg["image_token_index"] = int(img)
    cfg["transformers.js_config"] = {"kv_cache_dtype": {"fp32": "float32", **({"fp16": "float32"} if fp16 else {})}}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    gen = lm.generation_config.to_dict() if lm.generation_config is not None else {}
    gen = {k: v for k, v in gen.items() if k in ("bos_token_id", "eos_token_id", "pad_token_id", "max_new_tokens")}
    gen.setdefault("eos_token_id", tok.eos_token_id)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    tmp = os.path.join(out, ".tokenizer")
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save_pretrained(tmp)
    for fname in ("tokenizer.json", "special_tokens_map.json", "vocab.json", "merges.txt"):
        if os.path.isfile(os.path.join(tmp, fname)):
            shutil.copyfile(os.path.join(tmp, fname), os.path.join(out, fname))
    with open(os.path.join(tmp, "tokenizer_config.json")) as f:
        tcfg = json.load(f)
    # transformers >= 4.43 saves the template as chat_template.jinja; transformers.js and the engine read
    # it from tokenizer_config.json, so it goes inline.
    if tok.chat_template and not isinstance(tcfg.get("chat_template"), (str, list)):
        tcfg["chat_template"] = tok.chat_template
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tcfg, f, indent=2)
    shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="export a causal LM folder in the transformers.js layout "
                                             "(embed_tokens.onnx + decoder_model_merged.onnx taking inputs_embeds)")
    ap.add_argument("--llm", required=True, help="save_pretrained folder (e.g. a stage-2 run's llm/)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fp16", action="store_true", help="also write *_fp16.onnx (float16 weights)")
    ap.add_argument("--external-data", choices=["auto", "yes", "no"], default="auto",
                    help="weights in <name>.onnx_data (auto: above ~1.8 GB, protobuf's limit is 2 GB)")
    a = ap.parse_args(argv)
    ext = {"auto": None, "yes": True, "no": False}[a.external_data]
    info = export_llm(a.llm, a.out, external=ext)
    if a.fp16:
        info["files"] = export_llm(a.llm, a.out, fp16=True, external=ext)["files"]
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
