"""Tiny stand-ins for tests and smoke runs of the recipe: a random Qwen2 causal LM with a word-level
tokenizer and a chat template (saved like a real model folder, so the trainer loads it with
`from_pretrained` exactly as it loads Qwen2-7B), and random feature shards for a dataset.

    python -m twinlens_train.llava.tiny llm --out DIR
    python -m twinlens_train.llava.tiny features --data instruct.json --out DIR [--cond]

Nothing here is downloaded: the classes are the real `transformers` ones with tiny sizes.
"""
from __future__ import annotations

import argparse
import json
import os
import re
from typing import Iterable, List

import torch

from .. import world
from .data import IMAGE_TOKEN, Example, read_datasets
from .make_dataset import DESCRIBE, PRETRAIN_PROMPTS
from .shards import FeatureMeta, write_features

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", IMAGE_TOKEN, "[UNK]"]
# ChatML, as Qwen2's template, without the default system turn.
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def vocabulary() -> List[str]:
    words = set(world.WORDS) | {"user", "assistant", "system"}
    for text in PRETRAIN_PROMPTS + [DESCRIBE]:
        words |= set(re.findall(r"\w+|[^\w\s]+", text.lower()))
    return SPECIALS + sorted(words)


def build_tokenizer(words: Iterable[str], specials: Iterable[str] = ("<|im_start|>", IMAGE_TOKEN)):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = list(dict.fromkeys(words))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="<|endoftext|>",
                                   eos_token="<|im_end|>", additional_special_tokens=list(specials))
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_llm(out: str, seed: int = 0, hidden: int = 32, layers: int = 2) -> str:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = build_tokenizer(vocabulary())
    cfg = Qwen2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=2 * hidden, vocab_size=len(tok), max_position_embeddings=512,
                      tie_word_embeddings=False, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                      bos_token_id=None)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def random_features(examples: List[Example], out: str, clip_shape=(4, 16), diffusion_shape=(6, 24), seed: int = 0,
                    cond: bool = True, n_shards: int = 1) -> str:
    """Seeded random tokens for every image row; diffusion_cond for each when cond (the question
    as prompt), which stage 2 reads with probability 1 - p_drop."""
    meta = FeatureMeta(tap="random", t=50, s=4.0 if cond else 0.0, seed=seed,
                       prompt_policy="question" if cond else "none", clip_shape=tuple(clip_shape),
                       diffusion_shape=tuple(diffusion_shape))
    rows = []
    for k, ex in enumerate(examples):
        if ex.image is None:
            continue
        g = torch.Generator().manual_seed(seed * 1_000_003 + k)
        f = {"clip": torch.randn(clip_shape, generator=g),
             "diffusion_uncond": torch.randn(diffusion_shape, generator=g)}
        if cond:
            f["diffusion_cond"] = f["diffusion_uncond"] + 0.5 * torch.randn(diffusion_shape, generator=g)
        rows.append((ex.id, f))
    return write_features(out, rows, meta, n_shards)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="tiny LLM folder / random feature shards for smoke runs")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a1 = sub.add_parser("llm")
    a1.add_argument("--out", required=True)
    a1.add_argument("--seed", type=int, default=0)
    a2 = sub.add_parser("features")
    a2.add_argument("--data", nargs="+", required=True)
    a2.add_argument("--out", required=True)
    a2.add_argument("--seed", type=int, default=0)
    a2.add_argument("--cond", action="store_true")
    a2.add_argument("--shards", type=int, default=1)
    a = ap.parse_args(argv)
    if a.cmd == "llm":
        print(build_tiny_llm(a.out, a.seed))
    else:
        ex, rep = read_datasets(a.data)
        print(json.dumps({"manifest": random_features(ex, a.out, seed=a.seed, cond=a.cond, n_shards=a.shards),
                          "report": rep.summary()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
