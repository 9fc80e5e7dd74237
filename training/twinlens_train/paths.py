"""Where things are, computed once from this file's place (training/twinlens_train/paths.py), so that
every entry point finds the same folders whatever the current directory is.

    TRAINING  training/                (the folder to run `python -m twinlens_train.…` from)
    REPO      the repository root
    WORK      training/.work           (git-ignored checkpoints: <recipe>/ (v2.2: full/), quick/, projectors-smoke/)
    SHIPPED   models/mini-world        (the built-in pack)

`module_cmd` / `module_env` run another entry point as a subprocess (`python -m …` with training/ on
PYTHONPATH), whatever cwd the caller gives it.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, List, Optional

TRAINING = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TRAINING)
WORK = os.path.join(TRAINING, ".work")
SHIPPED = os.path.join(REPO, "models", "mini-world")


def recipe_work(recipe: str) -> str:
    """A mini-world recipe's work folder: training/.work/<recipe>; v2.2's keeps its historic name, full/."""
    return os.path.join(WORK, "full" if recipe == "v2.2" else recipe)


def module_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """os.environ with training/ first on PYTHONPATH (so `-m twinlens_train.…` resolves from any cwd)."""
    old = os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, PYTHONPATH=TRAINING + (os.pathsep + old if old else ""))
    env.update(extra or {})
    return env


def module_cmd(module: str, *args: str, python: Optional[str] = None) -> List[str]:
    """[python, "-m", module, *args] (python: this interpreter unless given)."""
    return [python or sys.executable, "-m", module, *args]
