"""Preflight for the Python side: import every third-party module the training
code and its tests use, and name the package that is missing.

    python -m twinlens_train.preflight          (from training/; first step of `npm run test:py`)

A fresh CI machine has none of these; a missing one used to surface as a
ModuleNotFoundError deep inside one smoke test (PIL, once). This check fails
first, with the package to install, and it also scans the repo's Python files
so that a new import that no requirements line covers fails here, not on the
next fresh machine.
"""
from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from typing import Dict, Iterable, List, Set

from twinlens_train.paths import REPO, TRAINING

REQUIREMENTS = os.path.join(TRAINING, "requirements.txt")

# import name -> pip package name (as written in requirements.txt)
MODULES: Dict[str, str] = {
    "numpy": "numpy",
    "torch": "torch",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "PIL": "pillow",
    "pytest": "pytest",
    "safetensors": "safetensors",
    "transformers": "transformers",
    "diffusers": "diffusers",
    "optimum": "optimum",
    "accelerate": "accelerate",
    "tokenizers": "tokenizers",
    "huggingface_hub": "huggingface_hub",
    "peft": "peft",
}

# Python files that are ours: their top-level module names are not third-party.
SCAN_DIRS = ["training"]
SKIP_PARTS = {".work", "__pycache__", ".venv", "node_modules"}
# Folders whose modules import as top-level names: training/ (the package root: twinlens_train and its
# subpackages mini_world, fixtures, bench, llava, models) and training/tests (pytest puts it on sys.path
# for conftest). A module deeper down is only reachable through its package, so its bare name is not ours.
IMPORT_ROOTS = [TRAINING, os.path.join(TRAINING, "tests")]


def local_modules() -> Set[str]:
    names: Set[str] = set()
    for base in IMPORT_ROOTS:
        for entry in sorted(os.listdir(base)):
            path = os.path.join(base, entry)
            if entry.endswith(".py") and os.path.isfile(path):
                names.add(entry[:-3])
            elif entry not in SKIP_PARTS and os.path.isfile(os.path.join(path, "__init__.py")):
                names.add(entry)
    return names


def python_files() -> Iterable[str]:
    for sub in SCAN_DIRS:
        for root, dirs, files in os.walk(os.path.join(REPO, sub)):
            dirs[:] = [d for d in dirs if d not in SKIP_PARTS]
            for f in files:
                if f.endswith(".py"):
                    yield os.path.join(root, f)


def imported_top_levels(path: str) -> Set[str]:
    with open(path, "r", encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), filename=path)
    out: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def uncovered_imports() -> List[str]:
    """Third-party imports in the repo's Python files that MODULES does not list."""
    stdlib = set(sys.stdlib_module_names)
    local = local_modules()
    problems = []
    for path in python_files():
        for mod in sorted(imported_top_levels(path)):
            if mod in stdlib or mod in local or mod == "__future__" or mod in MODULES:
                continue
            problems.append(f"{os.path.relpath(path, REPO)} imports '{mod}', which twinlens_train/preflight.py "
                            f"does not know: add it to MODULES and its package to training/requirements.txt "
                            f"(a module of ours imports through its package: twinlens_train.…)")
    return problems


def unpinned_packages() -> List[str]:
    with open(REQUIREMENTS, "r", encoding="utf-8") as fh:
        pinned = {re.split(r"[=<>~\[ ]", line.strip(), 1)[0].lower().replace("_", "-")
                  for line in fh if line.strip() and not line.startswith("#")}
    return [f"training/requirements.txt does not pin '{pkg}' (imported as '{mod}')"
            for mod, pkg in MODULES.items() if pkg.lower().replace("_", "-") not in pinned]


def missing_modules() -> List[str]:
    out = []
    for mod, pkg in MODULES.items():
        try:
            importlib.import_module(mod)
        except Exception as e:  # an import can fail for more than absence (a broken wheel)
            out.append(f"cannot import '{mod}' ({type(e).__name__}: {e}); package: {pkg}")
    return out


def main() -> int:
    problems = uncovered_imports() + unpinned_packages() + missing_modules()
    if problems:
        print("preflight: the Python environment is not ready:", file=sys.stderr)
        for p in problems:
            print("  - " + p, file=sys.stderr)
        print(f"preflight: run `npm run setup:py` (bash training/setup_venv.sh), then use .venv/bin/python "
              f"(this is {sys.executable}).", file=sys.stderr)
        return 1
    print(f"preflight: {len(MODULES)} modules import with {sys.executable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
