"""LLaVA data readers: bad rows are counted and located, text-only rows kept, the mini-world
dataset reads back clean; prompt labels cover answers only; the sampler's global batches do not
depend on the world size."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from twinlens_train.llava import data as D
from twinlens_train.llava.data import read_datasets
from twinlens_train.llava.make_dataset import make_dataset
from twinlens_train.llava.prompt import IGNORE, PromptBuilder
from twinlens_train.llava.sampler import GlobalBatchSampler
from twinlens_train.llava.tiny import build_tokenizer, vocabulary


def _png(path, seed=0):
    arr = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def _conv(*pairs):
    out = []
    for h, g in pairs:
        out += [{"from": "human", "value": h}, {"from": "gpt", "value": g}]
    return out


@pytest.fixture
def bad_llava(tmp_path):
    img = tmp_path / "img"
    img.mkdir()
    _png(img / "ok.png")
    _png(img / "trunc.png", 1)
    raw = open(img / "trunc.png", "rb").read()
    open(img / "trunc.png", "wb").write(raw[:len(raw) - 200])  # truncated inside the pixel data
    open(img / "junk.png", "wb").write(b"not an image at all")
    rows = [
        {"id": "good", "image": "ok.png", "conversations": _conv(("<image>\nwhat is it", "a red circle"))},  # 0
        {"id": "text", "conversations": _conv(("hello", "hi"), ("is red a colour", "yes"))},  # 1 text-only, kept
        {"id": "missing", "image": "nope.png", "conversations": _conv(("<image>\nq", "a"))},  # 2
        {"id": "notag", "image": "ok.png", "conversations": _conv(("what is it", "a"))},  # 3
        {"id": "twotags", "image": "ok.png", "conversations": _conv(("<image>\nq", "a"), ("<image> again", "b"))},  # 4
        {"id": "trunc", "image": "trunc.png", "conversations": _conv(("<image>\nq", "a"))},  # 5
        {"id": "junk", "image": "junk.png", "conversations": _conv(("<image>\nq", "a"))},  # 6
        {"id": "roles", "image": "ok.png", "conversations": [{"from": "gpt", "value": "x"},
                                                             {"from": "human", "value": "<image>"}]},  # 7
        {"id": "odd", "image": "ok.png", "conversations": [{"from": "human", "value": "<image>\nq"}]},  # 8
        {"id": "tagtext", "conversations": _conv(("<image>\nq", "a"))},  # 9 <image> but no image
        "not a row",  # 10
        {"id": "late", "image": "ok.png", "conversations": _conv(("q", "a"), ("<image>\nq2", "b"))},  # 11
    ]
    path = tmp_path / "llava.json"
    path.write_text(json.dumps(rows))
    return str(path), str(img)


def test_each_bad_row_kind_is_counted_with_file_and_index(bad_llava):
    path, img = bad_llava
    ex, rep = read_datasets([path], image_folder=img)
    assert [e.id for e in ex] == ["good", "text"]
    assert rep.counts == {D.IMAGE_MISSING: 1, D.NO_IMAGE_TOKEN: 1, D.MANY_IMAGE_TOKENS: 1, D.IMAGE_UNDECODABLE: 2,
                          D.BAD_ROLES: 2, D.TOKEN_WITHOUT_IMAGE: 1, D.MALFORMED: 1, D.MISPLACED_IMAGE_TOKEN: 1}
    where = {(r, x["index"]) for r, xs in rep.examples.items() for x in xs}
    assert where == {(D.IMAGE_MISSING, 2), (D.NO_IMAGE_TOKEN, 3), (D.MANY_IMAGE_TOKENS, 4), (D.IMAGE_UNDECODABLE, 5),
                     (D.IMAGE_UNDECODABLE, 6), (D.BAD_ROLES, 7), (D.BAD_ROLES, 8), (D.TOKEN_WITHOUT_IMAGE, 9),
                     (D.MALFORMED, 10), (D.MISPLACED_IMAGE_TOKEN, 11)}
    assert all(x["file"] == path for xs in rep.examples.values() for x in xs)
    assert rep.rows == 12 and rep.kept == 2 and rep.text_only == 1 and rep.bad_rows == 10
    assert rep.files[path] == {"rows": 12, "kept": 2, "bad": 10}
    d = rep.to_dict()
    json.dumps(d)  # serialisable for data-report.json
    assert "junk.png" in rep.examples[D.IMAGE_UNDECODABLE][1]["detail"]
    # text-only rows keep every turn and have no image
    text = ex[1]
    assert text.image is None and text.turns == [("hello", "hi"), ("is red a colour", "yes")]


def test_jsonl_suite_and_unparseable_lines(tmp_path):
    _png(tmp_path / "a.png")
    lines = [json.dumps({"id": "q0", "image": "a.png", "question": "what colour", "answer": "red"}),
             "{broken json",
             json.dumps({"id": "q1", "image": "gone.png", "question": "q", "answer": "a"}),
             json.dumps({"id": "q2", "question": "no image here", "answer": "fine"}),
             json.dumps({"id": "q3", "image": "a.png", "answer": "no question"})]
    p = tmp_path / "suite.jsonl"
    p.write_text("\n".join(lines) + "\n")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{")
    ex, rep = read_datasets([str(p), str(bad_json)])
    assert [e.id for e in ex] == ["q0", "q2"]
    assert ex[0].turns == [("<image>\nwhat colour", "red")] and ex[0].image == str(tmp_path / "a.png")
    assert rep.counts == {D.UNPARSEABLE: 2, D.IMAGE_MISSING: 1, D.MALFORMED: 1}
    assert {(x["file"], x["index"]) for x in rep.examples[D.UNPARSEABLE]} == {(str(p), 1), (str(bad_json), -1)}


def test_duplicate_ids_across_files_are_dropped(tmp_path):
    _png(tmp_path / "a.png")
    row = {"id": "x", "image": "a.png", "conversations": _conv(("<image>\nq", "a"))}
    for n in ("a.json", "b.json"):
        (tmp_path / n).write_text(json.dumps([row]))
    ex, rep = read_datasets([str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert len(ex) == 1 and rep.counts == {D.DUPLICATE_ID: 1} and rep.kept == 1
    assert rep.examples[D.DUPLICATE_ID][0]["file"] == str(tmp_path / "b.json")


def test_mini_world_dataset_reads_back_clean(tmp_path):
    info = make_dataset(str(tmp_path), scenes=6, seed=3)
    assert info == {"scenes": 6, "pretrain": 6, "instruct": 7, "textOnly": 1, "suite": 18}
    for name, n, n_text in (("pretrain.json", 6, 0), ("instruct.json", 7, 1), ("suite.jsonl", 18, 0)):
        ex, rep = read_datasets([str(tmp_path / name)], check_images="decode")
        assert rep.bad_rows == 0 and len(ex) == n and rep.text_only == n_text, rep.summary()
    ex, _ = read_datasets([str(tmp_path / "instruct.json")])
    assert all(len(e.turns) >= 2 for e in ex if e.image) and ex[0].turns[0][0].startswith("<image>\n")
    # same arguments, same bytes
    again = tmp_path / "again"
    make_dataset(str(again), scenes=6, seed=3)
    for name in ("pretrain.json", "instruct.json", "suite.jsonl", "images/scene-00004.png"):
        assert open(tmp_path / name, "rb").read() == open(again / name, "rb").read()


def test_prompt_labels_cover_answers_only():
    tok = build_tokenizer(vocabulary())
    img = tok.convert_tokens_to_ids("<image>")
    ex = D.Example("r", "/x.png", [("<image>\nwhat colour is the circle", "red"), ("how many circles are there", "two")])
    ids, labels = PromptBuilder(tok, img, 5, stage=2)(ex)
    assert ids.count(img) == 5 and len(ids) == len(labels)
    trained = [tok.convert_ids_to_tokens(i) for i, lab in zip(ids, labels) if lab != IGNORE]
    assert trained == ["red", "<|im_end|>", "two", "<|im_end|>"]
    assert all(lab == IGNORE for i, lab in zip(ids, labels) if i == img)
    # stage 1: image block, caption, eos; no instruction
    ids1, labels1 = PromptBuilder(tok, img, 3, stage=1)(D.Example("c", "/x.png", [("<image>\nDescribe it.", "a red circle")]))
    assert tok.convert_ids_to_tokens(ids1) == ["<image>"] * 3 + ["a", "red", "circle", "<|im_end|>"]
    assert labels1[:3] == [IGNORE] * 3 and labels1[3:] == ids1[3:]
    # text-only row: no image tokens at all
    ids2, _ = PromptBuilder(tok, img, 5, stage=2)(D.Example("t", None, [("is red a colour", "yes")]))
    assert img not in ids2


def test_global_batches_do_not_depend_on_world_size():
    one = GlobalBatchSampler(23, 8, 4, world=1, rank=0, seed=5)
    two = [GlobalBatchSampler(23, 8, 2, world=2, rank=r, seed=5) for r in range(2)]
    four = [GlobalBatchSampler(23, 8, 1, world=4, rank=r, seed=5) for r in range(4)]
    assert one.steps_per_epoch == 2 and one.accumulation == 2 and two[0].accumulation == 2
    for step in range(5):  # crosses epochs
        want = sorted(i for mb in one.micro_batches(step) for _, i in mb)
        for group in (two, four):
            got = sorted(i for s in group for mb in s.micro_batches(step) for _, i in mb)
            assert got == want
    assert one.global_indices(0) != one.global_indices(2)  # a new permutation each epoch
    with pytest.raises(ValueError, match="multiple"):
        GlobalBatchSampler(23, 6, 4, world=1)


def test_template_with_a_default_system_turn_and_a_tokenizer_without_image_token():
    """Real chat models (Qwen2) add a system turn when there is none and have no <image> token."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from twinlens_train.llava.prompt import ensure_image_token

    words = [w for w in vocabulary() if w != "<image>"] + ["you", "helpful"]
    tok = build_tokenizer(words, specials=["<|im_start|>"])
    tok.chat_template = ("{% if messages[0]['role'] != 'system' %}<|im_start|>system\nyou are helpful<|im_end|>\n"
                         "{% endif %}" + tok.chat_template)
    assert tok.convert_tokens_to_ids("<image>") in (None, tok.unk_token_id)
    llm = Qwen2ForCausalLM(Qwen2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       num_key_value_heads=1, intermediate_size=32, vocab_size=len(tok)))
    n0 = len(tok)
    img = ensure_image_token(tok, llm)
    assert img == n0 and llm.get_input_embeddings().weight.shape[0] == n0 + 1
    assert ensure_image_token(tok, llm) == img  # idempotent
    ids, labels = PromptBuilder(tok, img, 2, stage=2)(
        D.Example("r", "/x.png", [("<image>\nwhat colour", "red"), ("what shape", "circle")]))
    toks = tok.convert_ids_to_tokens(ids)
    assert toks[:4] == ["<|im_start|>", "system", "you", "are"] and toks.count("<image>") == 2
    assert [t for t, lab in zip(toks, labels) if lab != IGNORE] == ["red", "<|im_end|>", "circle", "<|im_end|>"]
