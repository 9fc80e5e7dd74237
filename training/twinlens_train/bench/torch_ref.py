"""Which PyTorch trains the mini world faster: time the training steps of its stages
(forward + backward + AdamW, random inputs at the recipe's shapes) in this interpreter and,
with --compare PY, in another interpreter in the same run; prints medians and ratios.

    python -m twinlens_train.bench.torch_ref --compare /usr/bin/python3    # torch 2.13 vs Debian's 1.13
    python -m twinlens_train.bench.torch_ref --json                        # this interpreter only
(from training/, or with PYTHONPATH=training; the other interpreter runs this module the same way)

One torch thread per process (as the training runs) unless --threads says otherwise.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from twinlens_train.paths import module_cmd, module_env


def bench(threads: int, reps: int) -> dict:
    import torch
    import torch.nn.functional as F
    from twinlens_train.models import CLIPVisionModelWithProjection, LlamaForCausalLM, UNet2DConditionModel
    from twinlens_train.models.projectors import MlpProjector, ProjectorConfig
    from twinlens_train.mw_models import configs

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mc = configs(text_vocab=64, llm_vocab=64, eos_id=1)

    def timed(step, warm=2):
        for _ in range(warm):
            step()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    unet = UNet2DConditionModel(mc["unet"])
    u_opt = torch.optim.AdamW(unet.parameters(), lr=1e-4)
    x = torch.randn(16, 4, 32, 32)
    t = torch.randint(0, 1000, (16,))
    ehs = torch.randn(16, 16, mc["unet"].cross_attention_dim)

    def unet_step():
        loss = F.mse_loss(unet(x, t, ehs), x)
        u_opt.zero_grad()
        loss.backward()
        u_opt.step()

    vision = CLIPVisionModelWithProjection(mc["vision"])
    v_opt = torch.optim.AdamW(vision.parameters(), lr=1e-4)
    pix = torch.randn(32, 3, 64, 64)

    def clip_step():
        _, e = vision(pix)
        loss = e.pow(2).mean()
        v_opt.zero_grad()
        loss.backward()
        v_opt.step()

    llm = LlamaForCausalLM(mc["llm"])
    proj = MlpProjector(ProjectorConfig(64, mc["llm"].hidden_size))
    l_opt = torch.optim.AdamW(list(llm.parameters()) + list(proj.parameters()), lr=1e-4)
    feats = torch.randn(40, 64, 64)
    ids = torch.randint(0, 64, (40, 16))

    def tune_step():  # stage 2: 24 QA + 4 captions + 12 descriptions, 64 visual tokens each
        emb = torch.cat([llm.embed(ids[:, :3]), proj(feats), llm.embed(ids[:, 3:])], dim=1)
        logits, _ = llm(emb)
        loss = F.cross_entropy(logits[:, -12:].reshape(-1, logits.shape[-1]), ids[:, 4:].reshape(-1))
        l_opt.zero_grad()
        loss.backward()
        l_opt.step()

    return {"torch": torch.__version__, "python": sys.version.split()[0], "threads": threads,
            "seconds_per_step": {"unet (bs 16)": timed(unet_step), "clip (bs 32)": timed(clip_step),
                                 "tune (bs 40, 64 visual tokens)": timed(tune_step)}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--compare", default=None, help="another Python interpreter with torch (e.g. /usr/bin/python3)")
    ap.add_argument("--json", action="store_true", help="print this interpreter's result as JSON only")
    args = ap.parse_args()
    if args.json:
        print(json.dumps(bench(args.threads, args.reps)))
        return
    runs = [bench(args.threads, args.reps)]
    if args.compare:
        r = subprocess.run(module_cmd("twinlens_train.bench.torch_ref", "--json", "--threads", str(args.threads),
                                      "--reps", str(args.reps), python=args.compare),
                           env=module_env(), capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{args.compare} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    names = [f"torch {x['torch']} (py {x['python']})" for x in runs]
    print(f"median seconds per training step, {args.threads} thread(s), {args.reps} reps")
    print("| step | " + " | ".join(names) + (" | ratio (second / first) |" if len(runs) > 1 else " |"))
    print("|---" * (len(runs) + 1 + (len(runs) > 1)) + "|")
    for k in runs[0]["seconds_per_step"]:
        vals = [x["seconds_per_step"][k] for x in runs]
        row = f"| {k} | " + " | ".join(f"{v:.4f}" for v in vals)
        print(row + (f" | {vals[1] / vals[0]:.2f}x |" if len(runs) > 1 else " |"))


if __name__ == "__main__":
    main()
