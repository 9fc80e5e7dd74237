"""Stage `report` of train.py: everything measured on the exported pack, so that
`npm run train:mini-world` is one command from nothing to the model card.

  1. the TypeScript engine's eval over the test + pairs suites  (<pack>/eval.json, eval-pairs.json)
  2. the leakage probe, caption task, s = 1, 1.5, 4               (<pack>/leakage.json)
  3. TS engine vs PyTorch greedy answers (agreement.py)           (<pack>/agreement.json)
  4. the bounds on the validation split (bounds.py)               (<pack>/bounds.json)
  5. for the shipped pack only: the sample answers (samples.py, assets/samples) and the model card
     tables (model_card.py)

Each step is a subprocess of the repo's own commands (npx twinlens …, `python -m twinlens_train.…`
with training/ on PYTHONPATH), the same ones the model card lists, run from the repository root, and
is skipped when its output is newer than the pack's pack.json (so an interrupted report resumes).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from twinlens_train.paths import REPO, SHIPPED, module_cmd, module_env

MODES = "clip,diffusion,fused,fused-xattn,leaky"


def _fresh(out: str, pack: str) -> bool:
    return os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(os.path.join(pack, "pack.json"))


def _run(cmd, env=None):
    print(time.strftime("%H:%M:%S"), "report:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True, env=module_env(env))


def stage_report(c) -> None:
    if shutil.which("npx") is None or not os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node")):
        raise SystemExit("stage report needs the TypeScript engine: run `ONNXRUNTIME_NODE_INSTALL=skip npm ci` first")
    pack, work = c.pack, c.work
    quick = ["--limit", "8"] if c.quick else []
    tw = ["npx", "twinlens"]
    if not _fresh(os.path.join(pack, "eval.json"), pack):
        _run(tw + ["eval", "--pack", pack, "--suite", "mini-world-all", "--modes", MODES, "--by", "split,target",
                   "--max-tokens", "8", "--fresh", "--out", os.path.join(pack, "eval.json")] + quick)
    if not _fresh(os.path.join(pack, "eval-pairs.json"), pack):
        _run(tw + ["eval", "--pack", pack, "--suite", "mini-world-pairs", "--modes", MODES, "--by", "target",
                   "--max-tokens", "8", "--fresh", "--out", os.path.join(pack, "eval-pairs.json")] + quick)
    # t and tap sweeps of the diffusion-reading modes (projectors trained at t = 50 on the recipe's tap; the
    # other taps of the sweep have its grid and width, so the same projectors can read them)
    sweeps = {"eval-t.json": "t=10,50,100,250,500", "eval-tap.json": "tap=" + ",".join(c.cfg["tap_sweep"])}
    for out, spec in sweeps.items():
        if not _fresh(os.path.join(pack, out), pack):
            _run(tw + ["eval", "--pack", pack, "--suite", "mini-world-test", "--modes", "diffusion,fused,fused-xattn",
                       "--sweep", spec, "--max-tokens", "8", "--fresh", "--out", os.path.join(pack, out)] + quick)
    if not _fresh(os.path.join(pack, "leakage.json"), pack):
        _run(tw + ["leakage", "--pack", pack, "--suite", "mini-world-test", "--task", "caption", "--guidance",
                   "1,1.5,4", "--limit", "8" if c.quick else "60", "--max-tokens", "12", "--summary-only",
                   "--out", os.path.join(pack, "leakage.json")])
    if not _fresh(os.path.join(pack, "agreement.json"), pack):
        _run(module_cmd("twinlens_train.mini_world.agreement", "--n", "8" if c.quick else "500", "--work", work,
                        "--pack", pack))
    if not _fresh(os.path.join(pack, "bounds.json"), pack):
        # two processes (one per core): the blind reader, and the oracle reader + probes; then one report
        extra = (["--quick", "--steps", "3", "--probe-images", "30", "--t-list", "50"] if c.quick else [])
        parts = [os.path.join(work, f"bounds-{k}.json") for k in ("blind", "oracle")]
        # The bounds depend on the work folder (data, features, stage-0 LLM), not on stage 2 or the export:
        # a part newer than those inputs is reused (it may have run beside stage 2).
        inputs = max(os.path.getmtime(os.path.join(work, f)) for f in ("data.json", "features.npz", "llm0.pt"))
        bounds = "twinlens_train.mini_world.bounds"
        cmds = [module_cmd(bounds, "--work", work, "--readers", "blind", "--out", parts[0], *extra),
                module_cmd(bounds, "--work", work, "--readers", "oracle", "--probes", "--small-probes", "--out", parts[1],
                           *extra)]
        todo = [(cmd, p) for cmd, p in zip(cmds, parts) if not (os.path.exists(p) and os.path.getmtime(p) >= inputs)]
        for _, p in todo:
            if os.path.exists(p):
                os.remove(p)  # bounds merges into an existing report; start this part afresh
        procs = [subprocess.Popen(cmd, cwd=REPO, env=module_env()) for cmd, _ in todo]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit("stage report: bounds failed (see its output above)")
        rep = json.load(open(parts[1]))
        rep["readers"] = {**json.load(open(parts[0]))["readers"], **rep["readers"]}
        with open(os.path.join(pack, "bounds.json"), "w") as f:
            json.dump(rep, f, indent=1)
    if os.path.realpath(pack) == os.path.realpath(SHIPPED):
        _run(module_cmd("twinlens_train.mini_world.samples", "--pack", pack))
        _run(module_cmd("twinlens_train.mini_world.model_card"), env={"MW_WORK": work})
