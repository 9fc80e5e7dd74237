"""Whole-word WordPiece tokenizers in Hugging Face tokenizer.json format, plus a
pure-Python reference tokenizer that mirrors @huggingface/tokenizers (JS).

Why WordPiece: the JS library has no WordLevel model. A WordPiece model whose
vocabulary holds whole words (and no "##" pieces) maps each pre-token to its id
or to the unk token.

Pipeline (same in JS and here):
  1. split out added tokens (longest match at each position, on the raw text);
  2. other sections: Lowercase normalizer, BertPreTokenizer (whitespace split,
     every punctuation character its own token), WordPiece;
  3. optional TemplateProcessing post-processor (adds specials when
     add_special_tokens is true).
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

# LLM tokenizer specials, in id order.
LLM_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
# Text-encoder (CLIP-like) specials, in id order. Like CLIP, unk = pad = endoftext.
TEXT_SPECIALS = ["<|startoftext|>", "<|endoftext|>"]

# Words covering the fixture questions and captions (and the mini-world later).
BASE_WORDS = [
    "what", "colour", "color", "is", "are", "the", "a", "an", "of", "in", "on", "to",
    "and", "or", "it", "this", "there", "how", "many", "where", "which", "does", "do",
    "circle", "circles", "square", "squares", "triangle", "triangles", "shape", "shapes",
    "object", "objects", "image", "picture", "background",
    "red", "blue", "green", "yellow", "grey", "gray", "white", "black", "orange", "purple",
    "left", "right", "top", "bottom", "middle", "center", "above", "below", "next", "side",
    "small", "large", "big", "bigger", "smaller", "larger", "than", "more", "any", "with",
    "yes", "no", "zero", "one", "two", "three", "four", "five", "six",
    "user", "assistant", "describe", "caption",
    "?", ".", ",", ":", "!",
]

_ASCII_PUNCT = set(range(0x21, 0x30)) | set(range(0x3A, 0x41)) | set(range(0x5B, 0x61)) | set(range(0x7B, 0x7F))


def _is_punct(ch: str) -> bool:
    return ord(ch) in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _added_token(i: int, content: str, special: bool = True) -> dict:
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def build_tokenizer_json(words: Sequence[str], specials: Sequence[str], unk_token: str,
                         template: tuple[str, str] | None = None) -> dict:
    """tokenizer.json with specials at ids 0..len(specials)-1, then `words`.

    template=(start, end) adds a TemplateProcessing post-processor `start A end`.
    """
    vocab: dict[str, int] = {}
    for t in list(specials) + list(words):
        if t in vocab:
            raise ValueError(f"duplicate token {t!r}")
        vocab[t] = len(vocab)
    post = None
    if template is not None:
        s, e = template
        post = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": s, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": e, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": s, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": e, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": e, "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in (s, e)},
        }
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(vocab[t], t) for t in specials],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": unk_token, "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def llm_tokenizer_json(words: Sequence[str] = BASE_WORDS) -> dict:
    return build_tokenizer_json(words, LLM_SPECIALS, "<unk>")


CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
                 "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")


def llm_tokenizer_config() -> dict:
    return {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
            "model_max_length": 2048, "chat_template": CHAT_TEMPLATE}


def text_tokenizer_json(words: Sequence[str] = BASE_WORDS) -> dict:
    return build_tokenizer_json(words, TEXT_SPECIALS, "<|endoftext|>", template=(TEXT_SPECIALS[0], TEXT_SPECIALS[1]))


def text_tokenizer_config(max_length: int) -> dict:
    return {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>", "model_max_length": max_length}


def render_chat(messages: Iterable[dict], bos_token: str = "<s>", add_generation_prompt: bool = True) -> str:
    """Python rendering of CHAT_TEMPLATE (no jinja2 here)."""
    out = bos_token
    for m in messages:
        out += f"{m['role']}: {m['content']}\n"
    if add_generation_prompt:
        out += "assistant:"
    return out


def write_json(path: str, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


@dataclass
class Encoding:
    ids: list[int]
    tokens: list[str]


class ReferenceTokenizer:
    """Mirror of @huggingface/tokenizers for the subset used here."""

    def __init__(self, tok: dict):
        if tok["model"]["type"] != "WordPiece":
            raise ValueError("only WordPiece")
        if (tok.get("normalizer") or {}).get("type") not in (None, "Lowercase"):
            raise ValueError("only Lowercase normalizer")
        self.tok = tok
        self.vocab: dict[str, int] = dict(tok["model"]["vocab"])
        self.unk = tok["model"]["unk_token"]
        self.prefix = tok["model"].get("continuing_subword_prefix", "##")
        self.added = {a["content"]: a for a in tok["added_tokens"]}
        for a in tok["added_tokens"]:
            self.vocab[a["content"]] = a["id"]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.special = {a["content"] for a in tok["added_tokens"] if a.get("special")}
        self.post = tok.get("post_processor")

    @classmethod
    def from_file(cls, path: str) -> "ReferenceTokenizer":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def token_to_id(self, t: str) -> int:
        return self.vocab[t]

    # -- encoding ---------------------------------------------------------
    def _split_added(self, text: str) -> list[str]:
        out, start, i, n = [], 0, 0, len(text)
        while i < n:
            match = None
            for a in self.added:
                if text.startswith(a, i) and (match is None or len(a) > len(match)):
                    match = a
            if match:
                if i > start:
                    out.append(text[start:i])
                out.append(match)
                i += len(match)
                start = i
            else:
                i += 1
        if start < n:
            out.append(text[start:])
        return out

    @staticmethod
    def _pre_tokenize(text: str) -> list[str]:
        out, cur = [], ""
        for ch in text.strip():
            if ch.isspace():
                if cur:
                    out.append(cur)
                cur = ""
            elif _is_punct(ch):
                if cur:
                    out.append(cur)
                cur = ""
                out.append(ch)
            else:
                cur += ch
        if cur:
            out.append(cur)
        return out

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.tok["model"].get("max_input_chars_per_word", 100):
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end]
                if start > 0:
                    sub = self.prefix + sub
                if sub in self.vocab:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                return [self.unk]
            pieces.append(cur)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for sec in self._split_added(text):
            if sec in self.added:
                tokens.append(sec)
                continue
            sec = sec.lower()
            for w in self._pre_tokenize(sec):
                tokens.extend(self._wordpiece(w))
        return tokens

    def encode(self, text: str, add_special_tokens: bool = True) -> Encoding:
        tokens = self.tokenize(text)
        if add_special_tokens and self.post is not None:
            s = self.post["single"][0]["SpecialToken"]["id"]
            e = self.post["single"][2]["SpecialToken"]["id"]
            tokens = [s] + tokens + [e]
        return Encoding([self.vocab.get(t, self.vocab[self.unk]) for t in tokens], tokens)

    # -- decoding ---------------------------------------------------------
    @staticmethod
    def _cleanup(text: str) -> str:
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            text = text.replace(a, b)
        return text

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        toks = [self.id_to_token.get(int(i), self.unk) for i in ids]
        if skip_special_tokens:
            toks = [t for t in toks if t not in self.special]
        parts = []
        for i, t in enumerate(toks):
            if i != 0:
                t = t[len(self.prefix):] if t.startswith(self.prefix) else " " + t
            parts.append(self._cleanup(t))
        return self._cleanup("".join(parts))


def prompt_ids(tok: ReferenceTokenizer, text: str, max_length: int, pad_id: int) -> list[int]:
    """Text-encoder ids: encode with specials, truncate keeping the end token, pad."""
    ids = tok.encode(text, add_special_tokens=True).ids
    if len(ids) > max_length:
        ids = ids[: max_length - 1] + [ids[-1]]
    return ids + [pad_id] * (max_length - len(ids))
