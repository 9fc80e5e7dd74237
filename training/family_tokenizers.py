"""Byte-level BPE tokenizers shaped like the public exports, for the family fixtures.

Why this exists: real Stable Diffusion ONNX folders ship CLIP's BPE tokenizer as
`tokenizer/vocab.json` + `merges.txt` (no tokenizer.json), and LLaVA-style LLMs
ship a byte-level BPE `tokenizer.json` (Qwen2 style). The family fixtures need
both file formats at tiny size, plus a pure-Python reference encoder for each,
so the TypeScript importers can be checked against ids computed independently.

* `train_bpe` learns merges on a word list (deterministic: most frequent pair,
  ties broken by the sorted pair order).
* CLIP: ids 0..255 are the byte characters, 256..511 the same with "</w>", then
  one id per merge, then <|startoftext|> and <|endoftext|> (the layout of
  openai/clip-vit-large-patch14's vocab.json).
* Qwen2: ids 0..255 byte characters, then one id per merge, then added tokens.
The Python regexes approximate the Unicode classes (\\p{L}, \\p{N}) for ASCII
input, which is all the goldens use.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2 / CLIP byte -> printable character table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return dict(sorted(table.items()))


BYTE_CHARS = bytes_to_unicode()


def byte_chars(text: str) -> List[str]:
    return [BYTE_CHARS[b] for b in text.encode("utf-8")]


def train_bpe(words: Sequence[List[str]]) -> List[Tuple[str, str]]:
    """Merges until every word is one symbol."""
    corpus = [list(w) for w in words]
    merges: List[Tuple[str, str]] = []
    while True:
        counts: Counter = Counter()
        for w in corpus:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] += 1
        if not counts:
            return merges
        best = max(sorted(counts), key=lambda p: counts[p])
        merges.append(best)
        for i, w in enumerate(corpus):
            corpus[i] = merge_word(w, best)


def merge_word(word: List[str], pair: Tuple[str, str]) -> List[str]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def bpe(symbols: List[str], ranks: Dict[Tuple[str, str], int]) -> List[str]:
    """Repeatedly merge the lowest-ranked adjacent pair (all its occurrences)."""
    word = list(symbols)
    while len(word) > 1:
        pairs = [(ranks.get(p, 1 << 30), p) for p in zip(word, word[1:])]
        rank, pair = min(pairs)
        if rank == 1 << 30:
            break
        word = merge_word(word, pair)
    return word


@dataclass
class Encoding:
    ids: List[int]
    tokens: List[str]


# ------------------------------------------------------------------ CLIP
CLIP_SOT, CLIP_EOT = "<|startoftext|>", "<|endoftext|>"
CLIP_PATTERN_PY = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+")


class ClipBpeTokenizer:
    """CLIP's tokenizer: whitespace-collapsed, lowercased, regex pre-split,
    byte characters, BPE with '</w>' on the last symbol, <sot> ... <eot>."""

    def __init__(self, words: Sequence[str]):
        corpus = []
        for w in words:
            chars = byte_chars(w)
            corpus.append(chars[:-1] + [chars[-1] + "</w>"])
        self.merges = train_bpe(corpus)
        vocab = list(BYTE_CHARS.values())
        vocab += [c + "</w>" for c in vocab]
        vocab += ["".join(m) for m in self.merges]
        vocab += [CLIP_SOT, CLIP_EOT]
        self.vocab = {t: i for i, t in enumerate(vocab)}
        if len(self.vocab) != len(vocab):
            raise ValueError("duplicate CLIP vocabulary entries")
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.id_to_token = {i: t for t, i in self.vocab.items()}

    def token_to_id(self, t: str) -> int:
        return self.vocab[t]

    def tokenize(self, text: str) -> List[str]:
        text = re.sub(r"\s+", " ", text).strip().lower()
        out: List[str] = []
        for piece in CLIP_PATTERN_PY.findall(text):
            if piece in (CLIP_SOT, CLIP_EOT):
                out.append(piece)
                continue
            chars = byte_chars(piece)
            out.extend(bpe(chars[:-1] + [chars[-1] + "</w>"], self.ranks))
        return out

    def encode(self, text: str, add_special_tokens: bool = True) -> Encoding:
        tokens = self.tokenize(text)
        if add_special_tokens:
            tokens = [CLIP_SOT] + tokens + [CLIP_EOT]
        return Encoding([self.vocab[t] for t in tokens], tokens)

    def merges_txt(self) -> str:
        # The first line of CLIP's merges.txt is a version header that loaders skip.
        return "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges)


# ------------------------------------------------------------------ Qwen2-style byte-level BPE
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                r"|\s+(?!\S)|\s+")
QWEN_PATTERN_PY = re.compile(r"'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|(?:[^\r\n\w]|_)?[^\W\d_]+|\d"
                             r"| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN_ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]


class QwenBpeTokenizer:
    """Byte-level BPE (GPT-2 / Qwen2 family): regex split, byte characters, BPE, no suffix."""

    def __init__(self, sentences: Sequence[str]):
        words: List[List[str]] = []
        for s in sentences:
            for piece in QWEN_PATTERN_PY.findall(s):
                words.append(byte_chars(piece))
        uniq = sorted({tuple(w) for w in words})
        self.merges = train_bpe([list(w) for w in uniq])
        vocab = list(BYTE_CHARS.values()) + ["".join(m) for m in self.merges]
        self.vocab = {t: i for i, t in enumerate(vocab)}
        if len(self.vocab) != len(vocab):
            raise ValueError("duplicate BPE vocabulary entries")
        self.added = {t: len(vocab) + i for i, t in enumerate(QWEN_ADDED)}
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.all = {**self.vocab, **self.added}
        self.id_to_token = {i: t for t, i in self.all.items()}

    def token_to_id(self, t: str) -> int:
        return self.all[t]

    def _split_added(self, text: str) -> List[str]:
        pattern = "(" + "|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True)) + ")"
        return [p for p in re.split(pattern, text) if p]

    def encode(self, text: str, add_special_tokens: bool = False) -> Encoding:
        tokens: List[str] = []
        for sec in self._split_added(text):
            if sec in self.added:
                tokens.append(sec)
                continue
            for piece in QWEN_PATTERN_PY.findall(sec):
                tokens.extend(bpe(byte_chars(piece), self.ranks))
        return Encoding([self.all[t] for t in tokens], tokens)

    def tokenizer_json(self) -> dict:
        def added(t: str) -> dict:
            return {"id": self.added[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                    "normalized": False, "special": True}

        return {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [added(t) for t in QWEN_ADDED],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN_PATTERN}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                               "use_regex": False},
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }


# ChatML as in Qwen1.5 tokenizer_config.json (string message content).
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def render_qwen_chat(user: str) -> str:
    return ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
