from twinlens_train.tokenizer import (BASE_WORDS, LLM_SPECIALS, ReferenceTokenizer, llm_tokenizer_json, prompt_ids,
                                      render_chat, text_tokenizer_json)


def test_llm_specials_and_round_trip():
    tj = llm_tokenizer_json()
    tok = ReferenceTokenizer(tj)
    assert [tok.token_to_id(t) for t in LLM_SPECIALS] == [0, 1, 2, 3, 4]
    assert tj["model"]["type"] == "WordPiece" and tj["pre_tokenizer"] == {"type": "BertPreTokenizer"}
    e = tok.encode("How many squares are there?", add_special_tokens=False)
    assert e.tokens == ["how", "many", "squares", "are", "there", "?"]
    assert tok.decode(e.ids) == "how many squares are there?"
    assert tok.encode("zebra", add_special_tokens=False).ids == [1]  # unknown word -> <unk>


def test_chat_prompt_with_image_token():
    tok = ReferenceTokenizer(llm_tokenizer_json())
    text = render_chat([{"role": "user", "content": "<image>\nwhat colour is the circle"}])
    assert text == "<s>user: <image>\nwhat colour is the circle\nassistant:"
    e = tok.encode(text, add_special_tokens=False)
    assert e.tokens == ["<s>", "user", ":", "<image>", "what", "colour", "is", "the", "circle", "assistant", ":"]
    assert tok.decode(e.ids, skip_special_tokens=True) == "user : what colour is the circle assistant :"


def test_text_tokenizer_template_truncation_padding():
    tok = ReferenceTokenizer(text_tokenizer_json())
    s, e = tok.token_to_id("<|startoftext|>"), tok.token_to_id("<|endoftext|>")
    assert prompt_ids(tok, "", 6, e) == [s, e, e, e, e, e]
    ids = prompt_ids(tok, "what colour is the circle", 16, e)
    assert ids[:7] == [s] + [tok.token_to_id(w) for w in "what colour is the circle".split()] + [e]
    assert len(ids) == 16 and ids[7:] == [e] * 9
    long = prompt_ids(tok, " ".join(["red"] * 30), 8, e)
    assert long == [s] + [tok.token_to_id("red")] * 6 + [e]


def test_vocab_covers_fixture_questions():
    words = set(BASE_WORDS)
    for q in ("what colour is the circle", "how many squares are there", "red", "blue", "left", "yes"):
        assert set(q.split()) <= words
