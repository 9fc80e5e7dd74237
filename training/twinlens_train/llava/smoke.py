"""End-to-end smoke run of the LLaVA recipe for real packs, on tiny stand-ins of every part:

    python -m twinlens_train.llava.smoke     (from training/; npm run train:projectors:smoke)

1. data       mini-world scenes in LLaVA's formats (make_dataset: pretrain.json, instruct.json, suite.jsonl)
2. llm        a random tiny Qwen2 with its tokenizer + chat template (`tiny.build_tiny_llm`)
3. base pack  `twinlens packs import --sd --clip` of tiny random encoders built from the real classes
              (diffusers UNet2DConditionModel/AutoencoderKL + transformers CLIPTextModel, exported by optimum
              in the Optimum SD layout; transformers CLIPVisionModel exported by optimum, transformers.js
              layout: `llava.tiny_encoders`): the encoders a user would import before training
              (`--encoders families` uses the family fixtures instead)
4. extract    `twinlens extract` on that pack, 2 shards each: stage 1 (pretrain.json, no prompt) and
              stage 2 (instruct.json + suite.jsonl, the question as SD prompt)
5. train      `torchrun --nproc_per_node 2` (gloo) stage 1 then stage 2 for each mode (fused, clip,
              fused-xattn, diffusion; --modes picks)
6. export     projectors (`llava.export`) and the tuned LLM in the transformers.js layout (`llava.export_llm`)
7. import     `twinlens packs import --sd --clip --trained export/<mode> …`: ONE pack with every trained
              mode, each with its projectors and the LLM its stage 2 tuned (projectors/<mode>/, llm/<mode>/)
8. ask        `twinlens ask --mode all --json` on suite items; each mode's answer compared with PyTorch
              greedy decoding of that mode's stage-2 run
              (HF model on inputs_embeds, projectors from projector.safetensors, features read back
              from the extracted shards, which are bit-identical to what `ask` computes)

The last line of stdout is one JSON object: steps, losses (first/last per run), agreement per mode,
the pack's modes and their decoders, seconds. Exit 1 when agreement is below --min-agreement (default
1.0: greedy fp32 decoding must agree token for token). Work folder: training/.work/projectors-smoke (removed at start).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Dict, List

from twinlens_train.paths import REPO, TRAINING, WORK, module_env

FAMILIES = os.path.join(REPO, "test", "fixtures", "families")
SD = os.path.join(FAMILIES, "sd15-diffusers")
CLIP = os.path.join(FAMILIES, "clip-vit-transformersjs")


def log(msg: str) -> None:
    print(f"[smoke] {msg}", file=sys.stderr, flush=True)


def twinlens(*args: str, timeout: int = 600):
    cmd = ["node", os.path.join(REPO, "bin", "twinlens.js"), *args]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return json.loads(r.stdout) if "--json" in args else r.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: List[str], nproc: int) -> None:
    env = module_env({"OMP_NUM_THREADS": "1"})
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), "-m", "twinlens_train.llava.train", *args]
    r = subprocess.run(cmd, cwd=TRAINING, env=env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")


def losses(run: str) -> Dict[str, float]:
    with open(os.path.join(run, "loss.json")) as f:
        doc = json.load(f)
    vals = [h["loss"] for h in doc["steps"]]
    return {"first": round(vals[0], 4), "last": round(vals[-1], 4), "steps": len(vals)} if vals else {}


def words(text: str) -> str:
    return " ".join(text.split())


def pytorch_answers(run: str, features: str, items: List[dict], modes: List[str], max_tokens: int) -> Dict[str, Dict[str, str]]:
    """Greedy answers of the trained run in PyTorch for each pack mode: {item id: {mode: text}}."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from twinlens_train.llava.export import load_projectors
    from twinlens_train.llava.shards import FeatureStore

    tok = AutoTokenizer.from_pretrained(os.path.join(run, "llm"))
    lm = AutoModelForCausalLM.from_pretrained(os.path.join(run, "llm"), dtype=torch.float32).eval()
    _, p = load_projectors(run)
    store = FeatureStore(features)
    image_id = tok.convert_tokens_to_ids("<image>")
    out: Dict[str, Dict[str, str]] = {}
    for it in items:
        clip = store.get(it["id"], "clip")[None]
        diff = store.get(it["id"], "diffusion_cond")[None]
        out[it["id"]] = {}
        for mode in modes:
            with torch.no_grad():
                vis = {"clip": lambda: p["clip"](clip), "diffusion": lambda: p["diffusion"](diff),
                       "fused": lambda: torch.cat([p["clip"](clip), p["diffusion"](diff)], 1),
                       "fused-xattn": lambda: p["xattn"](clip, diff)}[mode]()[0]
                text = tok.apply_chat_template([{"role": "user", "content": "<image>\n" + it["question"]}],
                                               tokenize=False, add_generation_prompt=True)
                ids = tok(text, add_special_tokens=False).input_ids
                k = ids.index(image_id)
                ids = ids[:k] + [image_id] * vis.shape[0] + ids[k + 1:]
                emb = lm.get_input_embeddings()(torch.tensor([ids]))
                emb[0, k:k + vis.shape[0]] = vis
                gen: List[int] = []
                past = None
                cur = emb
                for _ in range(max_tokens):
                    o = lm(inputs_embeds=cur, past_key_values=past, use_cache=True)
                    past = o.past_key_values
                    nxt = int(o.logits[0, -1].argmax())
                    if nxt == tok.eos_token_id:
                        break
                    gen.append(nxt)
                    cur = lm.get_input_embeddings()(torch.tensor([[nxt]]))
            out[it["id"]][mode] = tok.decode(gen, skip_special_tokens=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default=os.path.join(WORK, "projectors-smoke"))
    ap.add_argument("--modes", default="fused,clip,fused-xattn,diffusion", help="training modes, comma-separated")
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--steps1", type=int, default=8)
    ap.add_argument("--steps2", type=int, default=150)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--items", type=int, default=4, help="suite items asked in TS and PyTorch")
    ap.add_argument("--max-tokens", type=int, default=12)
    ap.add_argument("--min-agreement", type=float, default=1.0)
    ap.add_argument("--encoders", choices=["real", "families"], default="real",
                    help="SD and CLIP: tiny diffusers/transformers models exported by optimum (real), or the "
                         "family fixtures")
    a = ap.parse_args(argv)
    t0 = time.time()
    import torch

    torch.set_num_threads(2)
    from twinlens_train.llava.export import export_projectors
    from twinlens_train.llava.export_llm import export_llm
    from twinlens_train.llava.make_dataset import make_dataset
    from twinlens_train.llava.tiny import build_tiny_llm

    w = os.path.abspath(a.work)
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    data = os.path.join(w, "data")
    log("data + tiny LLM")
    make_dataset(data, scenes=a.scenes, seed=0)
    build_tiny_llm(os.path.join(w, "llm"))
    sd, clip = SD, CLIP
    if a.encoders == "real":
        from twinlens_train.llava.tiny_encoders import build_tiny_clip, build_tiny_sd

        log("tiny SD (diffusers) and CLIP (transformers), exported by optimum")
        sd, clip = build_tiny_sd(os.path.join(w, "encoders", "sd")), build_tiny_clip(os.path.join(w, "encoders", "clip"))
    log(f"base pack ({a.encoders} encoders)")
    base_rep = twinlens("packs", "import", "--sd", sd, "--clip", clip, "--out", os.path.join(w, "base"), "--copy",
                        "--json")
    summary_encoders = {"kind": a.encoders, "sd": base_rep["manifest"]["diffusion"]["family"],
                        "tap": base_rep["manifest"]["diffusion"]["defaults"]["tap"]}
    stage_data = {1: [os.path.join(data, "pretrain.json")],
                  2: [os.path.join(data, "instruct.json"), os.path.join(data, "suite.jsonl")]}
    extracted = {}
    for stage in (1, 2):
        for i in range(2):
            log(f"extract stage {stage} shard {i}/2")
            extracted[stage] = twinlens("extract", "--pack", os.path.join(w, "base"), "--data", *stage_data[stage],
                                        "--out", os.path.join(w, f"feat{stage}"), "--stage", str(stage),
                                        "--prompt-dropout", "0", "--shard", f"{i}/2", "--provider", "cpu", "--json")
        if not extracted[stage]["manifest"]:
            raise RuntimeError(f"stage {stage}: no manifest.json after both shards")
    summary: dict = {"encoders": summary_encoders, "modes": modes, "nproc": a.nproc, "steps": {}, "losses": {}, "agreement": {}, "answers": {}, "answer_words": {}, "train_accuracy": {}}
    with open(os.path.join(data, "suite.jsonl")) as f:
        suite = [json.loads(line) for line in f if line.strip()]
    # one question per scene, spread over the scenes and the question kinds
    items, seen = [], set()
    for r in suite:
        if r["image"] not in seen and len(items) < a.items:
            seen.add(r["image"])
            items.append({"id": r["id"], "image": os.path.join(data, r["image"]), "question": r["question"],
                          "answer": str(r["answer"])})
    common = ["--batch-size", "4", "--micro-batch", "1", "--threads", "1", "--log-every", "1", "--checkpoint-every",
              "100", "--seed", "0"]
    for mode in modes:
        r1, r2 = os.path.join(w, "runs", f"{mode}-stage1"), os.path.join(w, "runs", f"{mode}-stage2")
        log(f"train {mode} stage 1 (torchrun x{a.nproc})")
        torchrun(["--stage", "1", "--mode", mode, "--data", *stage_data[1], "--features", os.path.join(w, "feat1"),
                  "--llm", os.path.join(w, "llm"), "--out", r1, "--steps", str(a.steps1), "--lr", "3e-3", *common],
                 a.nproc)
        log(f"train {mode} stage 2 (torchrun x{a.nproc})")
        torchrun(["--stage", "2", "--mode", mode, "--data", *stage_data[2], "--features", os.path.join(w, "feat2"),
                  "--llm", os.path.join(w, "llm"), "--projector", os.path.join(r1, "projector.safetensors"),
                  "--out", r2, "--steps", str(a.steps2), "--lr", "3e-3", *common], a.nproc)
        summary["steps"][mode] = {"stage1": a.steps1, "stage2": a.steps2}
        summary["losses"][mode] = {"stage1": losses(r1), "stage2": losses(r2)}
        log(f"export {mode}")
        export_projectors([r2], os.path.join(w, "export", mode, "projectors"))
        export_llm(os.path.join(r2, "llm"), os.path.join(w, "export", mode, "llm"))
    # every trained mode side by side in ONE pack: its projectors under projectors/<mode>/, the LLM that
    # stage 2 tuned with them under llm/<mode>/ (the first tuned LLM gives the pack its tokenizer)
    pack = os.path.join(w, "packs", "all")
    log(f"import {pack} ({len(modes)} trained modes)")
    rep = twinlens("packs", "import", "--sd", sd, "--clip", clip, "--trained",
                   *[os.path.join(w, "export", m) for m in modes], "--out", pack, "--copy", "--json")
    if not rep["usable"]:
        raise RuntimeError(f"{pack} is not usable: {rep.get('validation')}")
    missing = [m for m in modes if m not in rep["manifest"]["modes"]]
    if missing:
        raise RuntimeError(f"{pack} lacks the trained modes {missing}")
    ts: Dict[str, Dict[str, str]] = {}
    for it in items:
        res = twinlens("ask", "--pack", pack, "--image", it["image"], "--question", it["question"], "--mode", "all",
                       "--max-tokens", str(a.max_tokens), "--provider", "cpu", "--json")
        ts[it["id"]] = {m: ans["text"] for m, ans in res["answers"].items()}
        errors = {m: ans["error"] for m, ans in res["answers"].items() if ans.get("error")}
        if errors:
            raise RuntimeError(f"ask on {pack}: {errors}")
    for mode in modes:
        py = pytorch_answers(os.path.join(w, "runs", f"{mode}-stage2"), os.path.join(w, "feat2"), items, [mode],
                             a.max_tokens)
        agree = sum(words(ts[i["id"]][mode]) == words(py[i["id"]][mode]) for i in items) / len(items)
        summary["agreement"][mode] = agree
        summary["answers"][mode] = {i["id"]: {"ts": ts[i["id"]][mode], "pytorch": py[i["id"]][mode]} for i in items}
        # these items are in the stage-2 data: a training-set score, only a sign that training did something
        summary["train_accuracy"][mode] = sum(words(ts[i["id"]][mode]).lower() == i["answer"].lower()
                                              for i in items) / len(items)
        # agreement on empty answers says little: count the words the compared answers hold
        summary["answer_words"][mode] = sum(len(words(ts[i["id"]][mode]).split()) for i in items)
        log(f"{mode}: agreement {agree}")
    summary["pack"] = {"dir": pack, "modes": list(rep["manifest"]["modes"]),
                       "decoders": {m: (v.get("llm") or {}).get("decoder", {}).get("path")
                                    for m, v in rep["manifest"]["modes"].items()}}
    worst = min(summary["agreement"].values())
    summary["min_agreement"] = worst
    summary["items"] = len(items)
    summary["seconds"] = round(time.time() - t0, 1)
    summary["ok"] = worst >= a.min_agreement
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
