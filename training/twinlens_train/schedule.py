"""Noise schedule (diffusers DDPMScheduler, scaled_linear) and forward noising.

alphas_cumprod is computed in float64. Forward noising
    x_t = sqrt(ac[t]) * x0 + sqrt(1 - ac[t]) * eps
is computed in float64 from float32 x0 and float32 eps, then cast to float32.
x0 = float32(vae_latent_mean * latent_scale) (the product is taken in float32).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, asdict

import numpy as np

LATENT_SCALE_SD = 0.18215


@dataclass
class ScheduleConfig:
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    num_train_timesteps: int = 1000

    def to_diffusers_json(self) -> dict:
        return {"_class_name": "DDPMScheduler", **asdict(self)}

    @classmethod
    def from_json(cls, d: dict) -> "ScheduleConfig":
        return cls(**{k: d[k] for k in ("beta_start", "beta_end", "beta_schedule", "num_train_timesteps") if k in d})


def alphas_cumprod(cfg: ScheduleConfig = ScheduleConfig()) -> np.ndarray:
    n = cfg.num_train_timesteps
    if cfg.beta_schedule == "scaled_linear":
        betas = np.linspace(np.sqrt(cfg.beta_start), np.sqrt(cfg.beta_end), n, dtype=np.float64) ** 2
    elif cfg.beta_schedule == "linear":
        betas = np.linspace(cfg.beta_start, cfg.beta_end, n, dtype=np.float64)
    else:
        raise ValueError(f"unsupported beta_schedule {cfg.beta_schedule}")
    return np.cumprod(1.0 - betas)


def add_noise(x0: np.ndarray, eps: np.ndarray, t: int, ac: np.ndarray) -> np.ndarray:
    a = float(ac[int(t)])
    x = np.sqrt(a) * x0.astype(np.float64) + np.sqrt(1.0 - a) * eps.astype(np.float64)
    return x.astype(np.float32)


def write_scheduler_config(path: str, cfg: ScheduleConfig = ScheduleConfig()) -> None:
    with open(path, "w") as f:
        json.dump(cfg.to_diffusers_json(), f, indent=2)
        f.write("\n")
