"""Stage `report` of train.py: everything measured on the exported pack, so that
`npm run train:mini-world` is one command from nothing to the model card.

  1. the TypeScript engine's eval over the test + pairs suites  (<pack>/eval.json, eval-pairs.json)
  2. the leakage probe, caption task, s = 1, 1.5, 4               (<pack>/leakage.json)
  3. how much the SD prompt moves the tap (prompt_effect.py)      (<pack>/prompt-effect.json)
     TS engine vs PyTorch greedy answers (agreement.py)           (<pack>/agreement.json)
  4. the bounds on the validation split (bounds.py; its three parts usually ran in the background during
     training, see BOUNDS_PARTS)                                 (<pack>/bounds.json)
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


# ---- the bounds (bounds.py): three parts, each a process of one torch thread, written into the work folder.
# The blind and oracle readers need only stages data and llm, the probes the encoders and stage features; each
# part is reused while it is newer than its inputs. train.py starts each part in the background (nice 19) as soon
# as it may (below), so the readers (16000 steps each, the longest single jobs of the run) use the core that the
# one-process stages clip .. features leave idle and the gaps of stages 2 and 3, and yield to their two workers;
# stage report then waits for them and merges. Nothing in a part depends on when it ran.
#   part: (bounds.py arguments, inputs (the part is stale when one is newer), files that must exist before it
#          starts early). The oracle reader waits for stage features although it does not read it: the blind
#          reader (64 tokens a row, the slowest part) then has the idle core to itself while the encoders train,
#          and the faster oracle reader and the probes fill the gaps of stages 2 and 3.
BOUNDS_PARTS = {
    "blind": (["--readers", "blind"], ("data.json", "llm0.pt"), ()),
    "oracle": (["--readers", "oracle"], ("data.json", "llm0.pt"), ("features.npz",)),
    "probes": (["--probes", "--small-probes"], ("data.json", "clip.pt", "vae.pt", "unet.pt", "features.npz"), ()),
}
_background = {}  # part -> Popen, started by start_bounds_early in this process


def _part_path(c, part: str) -> str:
    return os.path.join(c.work, f"bounds-{part}.json")


def _part_cmd(c, part: str):
    extra = ["--quick", "--steps", "3", "--probe-images", "30", "--t-list", "50"] if c.quick else []
    return module_cmd("twinlens_train.mini_world.bounds", "--work", c.work, "--recipe", c.recipe,
                      *BOUNDS_PARTS[part][0], "--out", _part_path(c, part), *extra)


def _part_state(c, part: str) -> str:
    """"fresh" (reusable), "ready" (inputs exist, part missing or stale) or "waiting" (inputs missing)."""
    inputs = [os.path.join(c.work, f) for f in BOUNDS_PARTS[part][1]]
    if not all(os.path.exists(f) for f in inputs):
        return "waiting"
    out = _part_path(c, part)
    fresh = os.path.exists(out) and os.path.getmtime(out) >= max(os.path.getmtime(f) for f in inputs)
    return "fresh" if fresh else "ready"


def _start(c, part: str, nice: bool) -> subprocess.Popen:
    out = _part_path(c, part)
    if os.path.exists(out):
        os.remove(out)  # bounds merges into an existing report; start this part afresh
    log = open(os.path.join(c.work, f"bounds-{part}.log"), "w")
    print(time.strftime("%H:%M:%S"), f"bounds[{part}]{' in the background' if nice else ''}: "
          f"{' '.join(_part_cmd(c, part))} (log {log.name})", flush=True)
    return subprocess.Popen(_part_cmd(c, part), cwd=REPO, env=module_env(), stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=(lambda: os.nice(19)) if nice else None)


def start_bounds_early(c) -> None:
    """Start every bounds part whose inputs now exist and that is neither fresh nor running (train.py calls this
    after each stage of a run that ends with stage report)."""
    for part, (_, _, after) in BOUNDS_PARTS.items():
        if part not in _background and _part_state(c, part) == "ready" and \
                all(os.path.exists(os.path.join(c.work, f)) for f in after):
            _background[part] = _start(c, part, nice=True)


def stop_background() -> None:
    """A run that stops early (a stage failed, Ctrl-C) does not leave bounds processes behind."""
    for p in _background.values():
        if p.poll() is None:
            p.terminate()
    _background.clear()


def bounds_report(c) -> None:
    for part, p in _background.items():
        if p.poll() is None:
            print(time.strftime("%H:%M:%S"), f"report: waiting for bounds[{part}] (started in the background)",
                  flush=True)
            p.wait()
    _background.clear()
    # missing, failed, or made stale while it ran (a stage it reads was rerun with --force): run it now
    procs = {part: _start(c, part, nice=False) for part in BOUNDS_PARTS if _part_state(c, part) != "fresh"}
    failed = [part for part, p in procs.items() if p.wait() != 0 or _part_state(c, part) != "fresh"]
    if failed:
        raise SystemExit(f"stage report: bounds {', '.join(failed)} failed (see "
                         f"{', '.join(os.path.join(c.work, f'bounds-{x}.log') for x in failed)})")
    parts = {part: json.load(open(_part_path(c, part))) for part in BOUNDS_PARTS}
    rep = dict(parts["probes"])
    rep["readers"] = {**parts["blind"]["readers"], **parts["oracle"]["readers"]}
    with open(os.path.join(c.pack, "bounds.json"), "w") as f:
        json.dump(rep, f, indent=1)


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
    # and the guidance sweep (s = 0: unconditional features, the question unheard), with leaky (no prompt dropout)
    sweeps["eval-s.json"] = "guidance=0,1,4"
    for out, spec in sweeps.items():
        modes = "diffusion,fused,fused-xattn" + (",leaky" if out == "eval-s.json" else "")
        if not _fresh(os.path.join(pack, out), pack):
            _run(tw + ["eval", "--pack", pack, "--suite", "mini-world-test", "--modes", modes,
                       "--sweep", spec, "--max-tokens", "8", "--fresh", "--out", os.path.join(pack, out)] + quick)
    if not _fresh(os.path.join(pack, "leakage.json"), pack):
        _run(tw + ["leakage", "--pack", pack, "--suite", "mini-world-test", "--task", "caption", "--guidance",
                   "1,1.5,4", "--limit", "8" if c.quick else "60", "--max-tokens", "12", "--summary-only",
                   "--out", os.path.join(pack, "leakage.json")])
    # how much the SD prompt moves the recipe's tap and the cross-attention query (explains the leakage probe)
    if not _fresh(os.path.join(pack, "prompt-effect.json"), pack):
        taps = ",".join(dict.fromkeys([c.cfg["tap"], "U-L1-R1-B0-Cross-Q"]))
        _run(module_cmd("twinlens_train.mini_world.prompt_effect", "--work", work, "--recipe", c.recipe, "--taps", taps,
                        "--out", os.path.join(pack, "prompt-effect.json"), *(["--quick", "--n", "4"] if c.quick else [])))
    if not _fresh(os.path.join(pack, "agreement.json"), pack):
        _run(module_cmd("twinlens_train.mini_world.agreement", "--n", "8" if c.quick else "500", "--work", work,
                        "--pack", pack))
    if not _fresh(os.path.join(pack, "bounds.json"), pack):
        bounds_report(c)
    if os.path.realpath(pack) == os.path.realpath(SHIPPED):
        _run(module_cmd("twinlens_train.mini_world.samples", "--pack", pack))
        _run(module_cmd("twinlens_train.mini_world.model_card"), env={"MW_WORK": work})
