"""Examples -> token ids and labels, the way LLaVA-1.5 builds its training sequences.

* Stage 1 ("plain", as LLaVA's pre-training): the image block followed by the caption and the end
  token; the human instruction is dropped, because with a frozen LLM the projector should learn
  to make image tokens the LLM can caption, not to answer phrasing variants.
* Stage 2 (chat): the tokenizer's own chat template (the one the engine uses at inference),
  rendered turn by turn, so each assistant answer (with its end-of-turn token) can be labelled and
  everything else (system text, user turns, role headers) masked with -100.

`<image>` is one token in the text; it is expanded to N copies (N = visual tokens of the mode) and
the model later overwrites those embedding rows with projected features, the engine's convention.
"""
from __future__ import annotations

from typing import List, Tuple

from .data import IMAGE_TOKEN, Example

IGNORE = -100


def ensure_image_token(tokenizer, llm) -> int:
    """Id of `<image>`; a real LLM's tokenizer (Qwen2) lacks it, so it is added as a special token
    and the embedding matrix grows by one row (the row itself is never read: it is overwritten)."""
    tid = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    if tid is None or tid == tokenizer.unk_token_id:
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]},
                                     replace_additional_special_tokens=False)
        llm.resize_token_embeddings(len(tokenizer))
        tid = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    return tid


class PromptBuilder:
    def __init__(self, tokenizer, image_token_id: int, n_image_tokens: int, stage: int, max_length: int = 2048):
        if stage == 2 and not tokenizer.chat_template:
            raise ValueError("stage 2 needs a tokenizer with a chat template (tokenizer_config.json / "
                             "chat_template.jinja in the LLM folder)")
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no eos token: the model could not learn where answers end")
        self.tok = tokenizer
        self.image_id = image_token_id
        self.n_image = n_image_tokens
        self.stage = stage
        self.max_length = max_length

    def _ids(self, text: str) -> List[int]:
        return self.tok(text, add_special_tokens=False).input_ids

    def _segments(self, ex: Example) -> List[Tuple[str, bool]]:
        """[(text, trained)] whose concatenation is the whole rendered sequence."""
        if self.stage == 1:
            _, answer = ex.turns[0]
            head = IMAGE_TOKEN if ex.image else ""
            return [(head, False), (answer.strip(), True)]
        msgs, segs, done = [], [], ""
        for human, gpt in ex.turns:
            msgs.append({"role": "user", "content": human})
            before = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            msgs.append({"role": "assistant", "content": gpt})
            after = self.tok.apply_chat_template(msgs, tokenize=False)
            if not (before.startswith(done) and after.startswith(before)):
                raise ValueError("the chat template is not prefix-stable turn by turn; cannot mask answers")
            segs.append((before[len(done):], False))
            segs.append((after[len(before):], True))
            done = after
        return segs

    def __call__(self, ex: Example) -> Tuple[List[int], List[int]]:
        ids: List[int] = []
        labels: List[int] = []
        for text, trained in self._segments(ex):
            part = self._ids(text) if text else []
            ids += part
            labels += part if trained else [IGNORE] * len(part)
        if self.stage == 1:
            ids.append(self.tok.eos_token_id)
            labels.append(self.tok.eos_token_id)
        # expand the single <image> id into the image block (never a label)
        n_tags = ids.count(self.image_id)
        if n_tags != (1 if ex.image else 0):
            raise ValueError(f"row {ex.id} ({ex.source} #{ex.index}): {n_tags} {IMAGE_TOKEN} tokens after "
                             f"tokenisation (the tokenizer must keep {IMAGE_TOKEN} as one special token)")
        if ex.image:
            at = ids.index(self.image_id)
            ids = ids[:at] + [self.image_id] * self.n_image + ids[at + 1:]
            labels = labels[:at] + [IGNORE] * self.n_image + labels[at + 1:]
            if at + self.n_image > self.max_length:
                raise ValueError(f"row {ex.id}: the image block ends at token {at + self.n_image}, past "
                                 f"--max-length {self.max_length}")
        return ids[:self.max_length], labels[:self.max_length]
