"""Attention fusion as ONNX Runtime's transformer optimizer / Olive do it, for
the "optimised export" family fixture.

Why this exists: optimised Stable Diffusion exports (Olive for DirectML, the
ORT transformers tool for CUDA) replace each attention's
reshape/transpose/MatMul/Softmax/MatMul chain by one com.microsoft
MultiHeadAttention node with a generic name. The per-op tensors under
`.../attn1/...` and `.../attn2/...` (notably `attn2/Softmax_output_0`, the
cross-attention probabilities) then no longer exist, while the projections
`to_q`/`to_k`/`to_v`/`to_out.0` keep their names. The importer must detect
this and say which taps and maps are gone; this pass produces such a graph
from an ordinary torch.onnx export so the detection is tested on real bytes.
"""
from __future__ import annotations

import re
from typing import Dict

import onnx
from onnx import helper

SOFTMAX_RE = re.compile(r"^(.*/attn[12])/Softmax$")


def fuse_attention(model: onnx.ModelProto, heads_by_scope: Dict[str, int]) -> onnx.ModelProto:
    """Replace every `<scope>/Softmax` attention core by MultiHeadAttention(q, k, v).

    heads_by_scope maps a node scope such as "/up_blocks.1/attentions.1/transformer_blocks.0/attn2"
    to that attention's head count. Nodes left without consumers are removed.
    """
    g = model.graph
    by_name = {n.name: n for n in g.node}
    fused = 0
    new_nodes = []
    for node in list(g.node):
        m = SOFTMAX_RE.match(node.name)
        if not m:
            continue
        scope = m.group(1)
        q, k, v = (by_name[f"{scope}/{p}/MatMul"].output[0] for p in ("to_q", "to_k", "to_v"))
        out_proj = by_name[f"{scope}/to_out.0/MatMul"]
        out_name = f"MultiHeadAttention_{fused}_output"
        new_nodes.append((out_proj, helper.make_node(
            "MultiHeadAttention", [q, k, v], [out_name], name=f"MultiHeadAttention_{fused}", domain="com.microsoft",
            num_heads=heads_by_scope[scope])))
        out_proj.input[0] = out_name
        fused += 1
    if fused == 0:
        raise ValueError("no attention Softmax nodes found to fuse")
    # Insert each fused node right before the projection that reads it (keeps topological order).
    order = []
    pending = {id(p): n for p, n in new_nodes}
    for n in g.node:
        if id(n) in pending:
            order.append(pending[id(n)])
        order.append(n)
    del g.node[:]
    g.node.extend(order)
    _remove_dead(model)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def _remove_dead(model: onnx.ModelProto) -> None:
    g = model.graph
    needed = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [t for t in g.initializer if t.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
    vis = [v for v in g.value_info if v.name in needed]
    del g.value_info[:]
    g.value_info.extend(vis)
