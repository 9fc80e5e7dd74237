"""Statistics of the model card: Wilson intervals and the exact McNemar test."""
from twinlens_train.mini_world import card_tables


def test_wilson_interval_known_values():
    lo, hi = card_tables.wilson(50, 100)
    assert abs(lo - 0.4038) < 1e-3 and abs(hi - 0.5962) < 1e-3
    assert card_tables.wilson(0, 0) == (0.0, 0.0)


def test_mcnemar_exact():
    assert card_tables.mcnemar_p(0, 0) == 1.0
    assert abs(card_tables.mcnemar_p(0, 10) - 2 / 1024) < 1e-12
    assert card_tables.mcnemar_p(5, 5) == 1.0
    assert card_tables.mcnemar_p(10, 30) < 0.01
