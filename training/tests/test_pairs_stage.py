"""Stage 3 (twinlens_train.mini_world.pairs): its data are new scenes, and a stage-2 checkpoint's folded
projector is taken back to its training form without changing what it computes."""
import torch

from twinlens_train import world
from twinlens_train.mini_world.pairs import unfolded
from twinlens_train.mini_world.recipe import FULL, QUICK, RECIPES, SHIPPED_RECIPE, Standardize
from twinlens_train.models.projectors import MlpProjector, ProjectorConfig


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


def test_the_shipped_recipe_has_no_stage_3():
    assert RECIPES[SHIPPED_RECIPE] is FULL and not FULL["pair_steps"]
    assert RECIPES["v3"]["pair_steps"] > 0 and QUICK["pair_steps"] > 0
