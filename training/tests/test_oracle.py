"""The oracle's scenes must be the scenes stage `data` rendered, in the same order."""
import numpy as np

from twinlens_train import oracle, probes, world


def test_split_scenes_match_rendered_split():
    rendered = world.build_split("val", 5, 2)
    pairs = world.build_pairs("val-pairs", 2)
    scenes = oracle.split_scenes("val", 5, 2)
    images = [s["image"] for s in rendered] + [im for p in pairs for im in (p["image_a"], p["image_b"])]
    assert len(scenes) == len(images) == 9
    for s, im in zip(scenes, images):
        assert np.array_equal(world.render(s), im)


def test_scene_tokens_encode_every_object():
    scenes = oracle.split_scenes("train", 20, 0)
    tok = oracle.scene_tokens(scenes)
    assert tok.shape == (20, oracle.MAX_OBJECTS, oracle.TOKEN_DIM)
    for s, t in zip(scenes, tok):
        assert int(t[:, 13].sum()) == len(s.objects)
        o = s.objects[0]
        assert t[0, world.SHAPES.index(o.shape)] == 1 and t[0, 3 + world.COLOUR_NAMES.index(o.colour)] == 1


def test_object_cell_is_under_the_centre():
    o = world.Obj("circle", "red", "large", x=60.0, y=3.0, r=10)
    assert oracle.object_cells(o, 8) == 0 * 8 + 7


def test_linear_probe_learns_a_separable_target_and_not_noise():
    g = np.random.default_rng(0)
    import torch
    x = torch.from_numpy(g.normal(size=(400, 8)).astype(np.float32))
    y = (x[:, 0] > 0).long()
    assert probes.fit_linear(x[:300], y[:300], x[300:], y[300:]) > 0.9
    noise = torch.from_numpy(g.integers(0, 2, 400))
    assert probes.fit_linear(x[:300], noise[:300], x[300:], noise[300:]) < 0.7


def test_small_object_probe_reads_only_small_objects_and_finds_a_nonlinear_code():
    scenes = [world.sample_scene(world.scene_rng("train", i)) for i in range(400)]
    grid = 8
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(len(scenes), grid * grid, 4)).astype(np.float32)
    for i, s in enumerate(scenes):
        for o in s.objects:
            c = oracle.object_cells(o, grid)
            # shape as the magnitude of a channel with a random sign: symmetric, so no linear probe separates it
            k = world.SHAPES.index(o.shape)
            tokens[i, c, 0] = np.sign(rng.normal()) * (0.5, 1.5, 2.5)[k] + rng.normal() * 0.1
    r = probes.probe_small_objects(tokens, scenes, np.arange(300), np.arange(300, 400), grid)
    assert set(r) == {"colour linear", "colour mlp", "shape linear", "shape mlp"}
    assert r["shape mlp"] > 0.9 > r["shape linear"]
    assert r["colour mlp"] < 0.5  # colour is not in these tokens
