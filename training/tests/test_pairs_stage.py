"""Stage 3 (twinlens_train.mini_world.pairs): its data are new scenes, and a stage-2 checkpoint's folded
projector is taken back to its training form without changing what it computes; the shipped pack is the shipped
recipe."""
import json
import os

import torch

from twinlens_train import world
from twinlens_train.mini_world.pairs import unfolded
from twinlens_train.mini_world.recipe import FULL, QUICK, RECIPES, SHIPPED_RECIPE, Standardize
from twinlens_train.models.projectors import MlpProjector, ProjectorConfig

from conftest import REPO


def test_unfold_inverts_the_fold():
    torch.manual_seed(0)
    mu, sd = torch.randn(8) * 3, torch.rand(8) + 0.1
    trained = Standardize(MlpProjector(ProjectorConfig(8, 12)), mu, sd)
    folded = trained.folded()  # what stage 2 saves: reads raw features
    back = unfolded(folded, mu, sd)
    x = torch.randn(3, 5, 8) * sd + mu
    assert torch.allclose(back(x), trained(x), atol=1e-5)
    assert torch.allclose(back.proj.linear_1.weight, trained.proj.linear_1.weight, atol=1e-5)


def test_pair_data_are_new_scenes():
    # stage pairdata takes train-pairs n .. n + extra: the same generator continued past stage data's pairs
    n = QUICK["n_train_pairs"]
    first = world.build_pairs("train-pairs", n)
    more = world.build_pairs("train-pairs", n + 3)[n:]
    assert [p["question"] for p in world.build_pairs("train-pairs", n + 3)[:n]] == [p["question"] for p in first]
    seen = {p["image_a"].tobytes() for p in first}
    assert not any(p["image_a"].tobytes() in seen for p in more)


def test_the_shipped_pack_is_the_shipped_recipe():
    # models/mini-world was exported by SHIPPED_RECIPE: its diffusion-reading modes read that recipe's tap, folded
    # as it says, and a recipe with stage 3 exported its stage-3 checkpoints (the stage-3 row of the card)
    cfg = RECIPES[SHIPPED_RECIPE]
    assert cfg["pair_steps"] > 0 and not FULL["pair_steps"] and QUICK["pair_steps"] > 0
    m = json.load(open(os.path.join(REPO, "models", "mini-world", "pack.json")))
    assert m["diffusion"]["defaults"]["tap"] == cfg["tap"]
    for name, mode in m["modes"].items():
        if "diffusion" in mode["inputs"]:
            assert mode["diffusion"]["tap"] == cfg["tap"], name
            assert mode.get("diffusionFold", 1) == cfg["fold"], name
