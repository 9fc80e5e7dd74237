"""Recipe v4's bfloat16 reader steps: v3 stays float32 bit for bit, v4's loss stays close to it, and the bench
that measured the choice (twinlens_train.bench.reader_step) runs and reports consistent losses."""
import torch

from twinlens_train.bench import reader_step
from twinlens_train.mini_world import recipe


class _C:
    def __init__(self, name):
        self.cfg = recipe.RECIPES[name]


def test_v3_is_float32_and_v4_is_bfloat16():
    assert recipe.RECIPES["v4"] == dict(recipe.RECIPES["v3"], reader_dtype="bfloat16")
    x, w = torch.randn(4, 8), torch.randn(8, 8)
    with recipe.reader_autocast(_C("v3")):
        y3 = x @ w
    with recipe.reader_autocast(_C("v4")):
        y4 = x @ w
    assert y3.dtype == torch.float32 and torch.equal(y3, x @ w)
    assert y4.dtype == torch.bfloat16


def test_bench_losses_agree():
    r = reader_step.bench(reps=1)
    for mode, vs in r["steps"].items():
        ref = vs["float32 (v3)"]["first_loss"]
        assert abs(vs["answer logits"]["first_loss"] - ref) < 1e-5, (mode, vs)
        assert abs(vs["bfloat16 autocast (v4)"]["first_loss"] - ref) < 2e-2, (mode, vs)
        assert all(v["seconds"] > 0 for v in vs.values())
