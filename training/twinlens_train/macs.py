"""Multiply-accumulates of one forward pass, counted by hooks: Conv2d and Linear from their outputs, plus
attention's matrix products (scaled_dot_product_attention, bmm, matmul). Used for the cost estimator's
fixture goldens (fixtures.family_sd) and the bench's GFLOP/s (bench.scale_models)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def count_macs(module: nn.Module, args: tuple) -> int:
    macs = [0]

    def hook(m, i, o):
        if isinstance(m, nn.Conv2d):
            macs[0] += o.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            macs[0] += o.numel() * m.in_features

    hooks = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    sdpa, bmm, matmul = F.scaled_dot_product_attention, torch.bmm, torch.matmul

    def counted_sdpa(q, k, v, *a, **kw):
        macs[0] += q.shape[:-1].numel() * k.shape[-2] * (q.shape[-1] + v.shape[-1])
        return sdpa(q, k, v, *a, **kw)

    def counted(fn):
        def f(a, b, *rest, **kw):
            r = fn(a, b, *rest, **kw)
            macs[0] += r.numel() * a.shape[-1]
            return r
        return f

    F.scaled_dot_product_attention, torch.bmm, torch.matmul = counted_sdpa, counted(bmm), counted(matmul)
    try:
        with torch.inference_mode():
            module(*args)
    finally:
        F.scaled_dot_product_attention, torch.bmm, torch.matmul = sdpa, bmm, matmul
        for h in hooks:
            h.remove()
    return macs[0]
