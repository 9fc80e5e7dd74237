import json

import numpy as np

from twinlens_train.schedule import ScheduleConfig, add_noise, alphas_cumprod, write_scheduler_config


def test_alphas_cumprod():
    ac = alphas_cumprod()
    assert ac.dtype == np.float64 and ac.shape == (1000,)
    assert abs(ac[0] - (1 - 0.00085)) < 1e-15
    assert np.all(np.diff(ac) < 0)
    assert abs(ac[50] - 0.9515769028024592) < 1e-12


def test_add_noise_formula():
    ac = alphas_cumprod()
    x0 = np.full((1, 4, 2, 2), 0.5, np.float32)
    eps = np.full_like(x0, -1.0)
    xt = add_noise(x0, eps, 50, ac)
    assert xt.dtype == np.float32
    np.testing.assert_allclose(xt, np.sqrt(ac[50]) * 0.5 - np.sqrt(1 - ac[50]), rtol=1e-6)


def test_scheduler_config(tmp_path):
    p = tmp_path / "scheduler_config.json"
    write_scheduler_config(str(p))
    d = json.loads(p.read_text())
    assert d == {"_class_name": "DDPMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                 "beta_schedule": "scaled_linear", "num_train_timesteps": 1000}
    assert ScheduleConfig.from_json(d) == ScheduleConfig()
