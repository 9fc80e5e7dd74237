"""ONNX export helpers (torch.onnx TorchScript exporter, opset 14) and graph
utilities used to check exports (tap lookup, extra outputs, fp16 weights), and the
transformers.js LLM signatures (MergedDecoder, EmbedTokens) of the fixture and mini-world packs.

Tensor naming of torch>=1.13: node "/<scope>/<Op>[_k]", output "<node>_output_0",
where <scope> is the module path with "/" between modules and "." kept before
ModuleList indices: module up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q
-> scope "/up_blocks.1/attentions.1/transformer_blocks.0/attn2/to_q/".
A module's output tap = output[0] of the LAST node (graph order) whose name
starts with its scope.
"""
from __future__ import annotations

import hashlib
import io
import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from twinlens_train.models.llm import LlamaForCausalLM

OPSET = 17


def module_scope(module_path: str) -> str:
    parts = module_path.split(".")
    segs: List[str] = []
    for p in parts:
        if p.isdigit() and segs:
            segs[-1] += "." + p
        else:
            segs.append(p)
    return "/" + "/".join(segs) + "/"


def module_output_tensor(model: onnx.ModelProto, module_path: str) -> str:
    scope = module_scope(module_path)
    last = None
    for n in model.graph.node:
        if n.name.startswith(scope):
            last = n
    if last is None:
        raise KeyError(f"no node under scope {scope}")
    return last.output[0]


def attention_softmax_tensor(model: onnx.ModelProto, attn_module_path: str) -> str:
    """Output of the Softmax node directly inside an attention module's scope."""
    scope = module_scope(attn_module_path)
    hits = [n.output[0] for n in model.graph.node
            if n.op_type == "Softmax" and n.name.startswith(scope) and "/" not in n.name[len(scope):]]
    if len(hits) != 1:
        raise KeyError(f"expected one Softmax under {scope}, found {hits}")
    return hits[0]


def tensor_names(model: onnx.ModelProto) -> List[str]:
    return [o for n in model.graph.node for o in n.output]


def export_onnx(module: torch.nn.Module, args: tuple, path: str, input_names: Sequence[str],
                output_names: Sequence[str], dynamic_axes: Optional[Dict[str, Dict[int, str]]] = None,
                external_data: Optional[str] = None, opset: int = OPSET,
                post: Optional[callable] = None) -> onnx.ModelProto:
    """Export `module` to `path`. external_data="weights.pb" stores every
    initializer in that one file next to the model (size_threshold=0).
    `post(model)` may edit the ModelProto before saving."""
    module.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, args, buf, input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic_axes or {}, opset_version=opset, do_constant_folding=True,
                          # The TorchScript exporter names tensors /<module path>/<Op>_output_0,
                          # which is what real exports look like and what tap lookup relies on;
                          # torch >= 2.9 defaults to the dynamo exporter, whose names differ.
                          dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    if post is not None:
        model = post(model) or model
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if external_data:
        data_path = os.path.join(os.path.dirname(path), external_data)
        if os.path.exists(data_path):
            os.remove(data_path)  # onnx appends to an existing data file
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=external_data, size_threshold=0, convert_attribute=False)
    else:
        onnx.save_model(model, path)
    return model


def initializers_to_fp16(model: onnx.ModelProto, min_elements: int = 16) -> onnx.ModelProto:
    """Store float32 initializers with >= min_elements values as float16 and add
    a Cast(to=float) node producing the original name, so the graph computes in
    float32 from float16-rounded weights."""
    g = model.graph
    casts = []
    keep = []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_elements:
            arr = numpy_helper.to_array(init).astype(np.float16)
            name16 = init.name + "_fp16"
            keep.append(numpy_helper.from_array(arr, name16))
            casts.append(helper.make_node("Cast", [name16], [init.name], name=init.name + "_CastFp32",
                                          to=TensorProto.FLOAT))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return model


def with_extra_outputs(model: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """Copy of `model` with name-only graph outputs added (for checks only)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_empty_tensor_value_info(n))
    return m


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def io_signature(path: str) -> dict:
    """{'inputs': [(name, dtype, shape)], 'outputs': [...]} from the graph."""
    m = onnx.load(path, load_external_data=False)

    def sig(vis):
        out = []
        for v in vis:
            t = v.type.tensor_type
            shape = [d.dim_param or d.dim_value for d in t.shape.dim]
            out.append((v.name, TensorProto.DataType.Name(t.elem_type).lower(), shape))
        return out

    return {"inputs": sig(m.graph.input), "outputs": sig(m.graph.output)}


# ------------------------------------------------------------------ transformers.js LLM signatures
class MergedDecoder(LlamaForCausalLM):
    """transformers.js decoder_model_merged signature over flat past tensors: (inputs_embeds, attention_mask,
    position_ids, past_key_values.0.key, .0.value, ...) -> (logits, present.0.key, .0.value, ...)."""

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        pkv = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
        logits, presents = super().forward(inputs_embeds, attention_mask, position_ids, pkv)
        return (logits,) + tuple(t for kv in presents for t in kv)


class EmbedTokens(torch.nn.Module):
    """transformers.js embed_tokens.onnx: input_ids -> inputs_embeds."""

    def __init__(self, emb):
        super().__init__()
        self.embed_tokens = emb

    def forward(self, input_ids):
        return self.embed_tokens(input_ids)


EMBED_TOKENS_AXES = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "inputs_embeds": {0: "batch_size", 1: "sequence_length"}}


def export_embed_tokens(embed: torch.nn.Module, path: str, dummy_ids: Sequence[int] = (2, 5, 6)) -> None:
    """transformers.js embed_tokens.onnx of an embedding table (input_ids -> inputs_embeds)."""
    export_onnx(EmbedTokens(embed), (torch.tensor([list(dummy_ids)]),), path, ["input_ids"], ["inputs_embeds"],
                EMBED_TOKENS_AXES)


def kv_decoder_io(cfg, past: int = 2, s: int = 3, use_cache_branch: bool = False):
    """Dummy inputs, input/output names and dynamic axes of a transformers.js decoder_model_merged export with
    a KV cache: (inputs_embeds, attention_mask, position_ids, past_key_values.{i}.key/value[, use_cache_branch])
    -> (logits, present.{i}.key/value). `cfg` gives num_hidden_layers, num_key_value_heads, head_dim and
    hidden_size. One definition for every exporter, so the engine meets one signature."""
    in_names = ["inputs_embeds", "attention_mask", "position_ids"]
    out_names = ["logits"]
    axes = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    past_t = []
    for i in range(cfg.num_hidden_layers):
        for kind in ("key", "value"):
            past_t.append(torch.zeros(1, cfg.num_key_value_heads, past, cfg.head_dim))
            in_names.append(f"past_key_values.{i}.{kind}")
            out_names.append(f"present.{i}.{kind}")
            axes[in_names[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[out_names[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    args = (torch.zeros(1, s, cfg.hidden_size), torch.ones(1, past + s, dtype=torch.int64),
            torch.arange(past, past + s)[None], *past_t)
    if use_cache_branch:
        in_names.append("use_cache_branch")
        args = (*args, torch.tensor([True]))
    return args, in_names, out_names, axes
