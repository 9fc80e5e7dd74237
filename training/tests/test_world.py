"""The mini world: determinism, split disjointness, captions, answers, pairs."""
import hashlib

import numpy as np

from twinlens_train import world


def _h(img):
    return hashlib.sha256(img.tobytes()).hexdigest()


def test_deterministic_and_rendered():
    a = world.build_split("train", 5, 3)
    b = world.build_split("train", 5, 3)
    for x, y in zip(a, b):
        assert np.array_equal(x["image"], y["image"]) and x["caption"] == y["caption"]
        assert [q.question for q in x["qas"]] == [q.question for q in y["qas"]]
    img = a[0]["image"]
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8


def test_dense_caption_lists_every_object_left_to_right_in_vocabulary():
    for x in world.build_split("val", 40, 1):
        objs = sorted(x["scene"].objects, key=lambda o: o.x)
        parts = x["dense"].split(" and ")
        assert parts == [f"a {o.size} {o.colour} {o.shape}" for o in objs]
        assert all(w in world.WORDS for w in x["dense"].split())


def test_splits_disjoint():
    hs = {s: {_h(x["image"]) for x in world.build_split(s, 60, 1)} for s in ("train", "val", "test")}
    assert not (hs["train"] & hs["val"]) and not (hs["train"] & hs["test"]) and not (hs["val"] & hs["test"])


def test_caption_names_only_large_objects_and_answers_are_consistent():
    for x in world.build_split("val", 40, 6):
        s = x["scene"]
        for o in s.objects:
            if o.size == "large":
                assert f"{o.colour} {o.shape}" in x["caption"]
        assert len(x["caption"].split(" and ")) == len(s.large())
        for q in x["qas"]:
            assert q.answer in world.OPTIONS[q.category], q
            assert all(w in world.WORDS for w in q.question.split()), q.question
            if q.category == "count":
                shape = [k for k, v in world.PLURAL.items() if v in q.question][0]
                assert world.NUMBERS[sum(o.shape == shape for o in s.objects)] == q.answer
            if q.category == "colour":
                _, _, _, _, size, shape = q.question.split()
                assert [o.colour for o in s.objects if o.size == size and o.shape == shape] == [q.answer]


def test_small_objects_are_small_and_asked_about():
    xs = world.build_split("train", 80, 5)
    small = [o for x in xs for o in x["scene"].objects if o.size == "small"]
    assert small and max(o.r for o in small) <= 5.0
    assert sum(q.target == "small" for x in xs for q in x["qas"]) > 0.3 * sum(len(x["qas"]) for x in xs)


def test_pairs_differ_in_one_detail_with_different_answers():
    for p in world.build_pairs("test-pairs", 12):
        assert p["answer_a"] != p["answer_b"]
        assert not np.array_equal(p["image_a"], p["image_b"])
        assert p["caption_a"] == p["caption_b"]  # the change is in a small object only
        assert p["question"].split()[0] in ("what", "is", "how")
