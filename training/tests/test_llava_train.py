"""The LLaVA trainer on a tiny random Qwen2: a 2-process torchrun (gloo) run equals a 1-process run
with the same global batch; a run stopped right after a checkpoint and resumed equals an
uninterrupted run; stage 1 leaves the LLM untouched; prompt dropout is seeded."""
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from twinlens_train.llava.data import read_datasets
from twinlens_train.llava.make_dataset import make_dataset
from twinlens_train.llava.tiny import build_tiny_llm, random_features
from twinlens_train.llava.train import STOP_EXIT, main as train_main

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # training/


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("llava")
    data = root / "data"
    make_dataset(str(data), scenes=10, seed=1)
    ex, _ = read_datasets([str(data / "instruct.json")])
    random_features(ex, str(root / "feat2"), cond=True, n_shards=2)
    ex1, _ = read_datasets([str(data / "pretrain.json")])
    random_features(ex1, str(root / "feat1"), cond=False)
    build_tiny_llm(str(root / "llm"))
    return root


def _args(root, out, stage=2, mode="fused", steps=4, micro=4, extra=()):
    data = "instruct.json" if stage == 2 else "pretrain.json"
    return ["--stage", str(stage), "--mode", mode, "--data", str(root / "data" / data), "--features",
            str(root / f"feat{stage}"), "--llm", str(root / "llm"), "--out", str(out), "--steps", str(steps),
            "--batch-size", "4", "--micro-batch", str(micro), "--lr", "2e-3", "--threads", "1", "--log-every", "1",
            "--checkpoint-every", "2", "--seed", "3", *extra]


def _env():
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights(out):
    w = {"proj." + k: v for k, v in load_file(os.path.join(out, "projector.safetensors")).items()}
    if os.path.isdir(os.path.join(out, "llm")):
        w.update({"llm." + k: v for k, v in load_file(os.path.join(out, "llm", "model.safetensors")).items()})
    return w


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.fixture(scope="module")
def reference(setup):
    """Uninterrupted 1-process run: global batch 4 in ONE micro-batch of 4."""
    out = setup / "ref"
    assert train_main(_args(setup, out)) == 0
    return out


def test_two_process_ddp_equals_one_process(setup, reference):
    out = setup / "ddp"
    # 2 ranks x 2 micro-batches of 1 (gradient accumulation + no_sync) = the same global batch of 4
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "twinlens_train.llava.train", *_args(setup, out, micro=1)]
    r = subprocess.run(cmd, cwd=HERE, env=_env(), capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 rank(s) x 2 micro-batch(es) of 1" in r.stdout
    assert r.stdout.count("step 4/4") == 1  # progress on rank 0 only
    ref, got = _weights(reference), _weights(out)
    assert any(k.startswith("llm.") for k in ref)  # stage 2 tunes (and saves) the LLM too
    assert _max_diff(ref, got) < 1e-5
    la = [s["loss"] for s in json.load(open(reference / "loss.json"))["steps"]]
    lb = [s["loss"] for s in json.load(open(out / "loss.json"))["steps"]]
    assert len(la) == 4 and max(abs(x - y) for x, y in zip(la, lb)) < 1e-5
    # training moved the weights (the comparison is not between two untouched copies)
    init = load_file(str(setup / "llm" / "model.safetensors"))
    assert max((ref["llm." + k] - init[k]).abs().max().item() for k in init) > 1e-4


def test_resume_after_a_kill_equals_uninterrupted(setup, reference):
    out = setup / "resumed"
    r = subprocess.run([sys.executable, "-m", "twinlens_train.llava.train", *_args(setup, out, extra=(
        "--stop-after-step", "2"))], cwd=HERE, env=_env(), capture_output=True, text=True, timeout=240)
    assert r.returncode == STOP_EXIT, r.stdout[-3000:] + r.stderr[-3000:]
    assert not os.path.exists(out / "projector.safetensors")  # it died before the end
    assert open(out / "checkpoints" / "last").read().strip() == "step-0000002"
    assert train_main(_args(setup, out, extra=("--resume",))) == 0
    ref, got = _weights(reference), _weights(out)
    assert all(torch.equal(ref[k], got[k]) for k in ref), _max_diff(ref, got)
    assert json.load(open(out / "loss.json")) == json.load(open(reference / "loss.json"))
    # a checkpoint of another run is refused
    with pytest.raises(ValueError, match="mode"):
        train_main(_args(setup, out, mode="clip", extra=("--resume",)))


@pytest.mark.parametrize("mode", ["clip", "diffusion", "fused-xattn"])
def test_stage1_trains_the_projector_only(setup, mode):
    out = setup / f"s1-{mode}"
    assert train_main(_args(setup, out, stage=1, mode=mode, steps=2)) == 0
    assert not os.path.exists(out / "llm")  # the LLM is frozen in stage 1
    info = json.load(open(out / "projector.json"))
    assert info["stage"] == 1 and info["mode"] == mode and info["features"]["prompt_policy"] == "none"
    assert info["image_tokens"] == {"clip": 4, "diffusion": 6, "fused-xattn": 4}[mode]
    assert os.path.getsize(out / "loss.png") > 0 and len(json.load(open(out / "loss.json"))["steps"]) == 2
    rep = json.load(open(out / "data-report.json"))
    assert rep["bad"] == 0 and rep["kept"] == 10
    # stage 2 starts from the stage-1 projector
    out2 = setup / f"s2-{mode}"
    assert train_main(_args(setup, out2, mode=mode, steps=1, extra=(
        "--projector", str(out / "projector.safetensors")))) == 0


def test_prompt_dropout_is_seeded(setup):
    from transformers import AutoTokenizer

    from twinlens_train.llava.dataset import LlavaDataset
    from twinlens_train.llava.prompt import PromptBuilder
    from twinlens_train.llava.shards import FeatureStore

    ex, _ = read_datasets([str(setup / "data" / "instruct.json")])
    store = FeatureStore(str(setup / "feat2"))
    tok = AutoTokenizer.from_pretrained(str(setup / "llm"))
    pb = PromptBuilder(tok, tok.convert_tokens_to_ids("<image>"), 10, 2)

    def kinds(p, seed, epoch=0):
        ds = LlavaDataset(ex, store, pb, "fused", 2, p_drop=p, seed=seed)
        return [ds.diffusion_kind(epoch, i) for i, e in enumerate(ex) if e.image]

    assert set(kinds(0.0, 0)) == {"diffusion_cond"} and set(kinds(1.0, 0)) == {"diffusion_uncond"}
    assert kinds(0.5, 0) == kinds(0.5, 0) and kinds(0.5, 0, 1) != kinds(0.5, 0, 0)
    s1 = LlavaDataset(ex, store, pb, "fused", 1, p_drop=0.0, seed=0)
    assert {s1.diffusion_kind(0, i) for i, e in enumerate(ex) if e.image} == {"diffusion_uncond"}


def test_rows_without_features_are_reported(setup):
    from twinlens_train.llava.data import NO_FEATURES
    from twinlens_train.llava.dataset import keep_with_features
    from twinlens_train.llava.shards import FeatureStore

    ex, rep = read_datasets([str(setup / "data" / "instruct.json"), str(setup / "data" / "suite.jsonl")])
    kept = keep_with_features(ex, FeatureStore(str(setup / "feat2")), rep)
    assert len(kept) == 12 and rep.kept == 12  # the 10 scenes + 2 text-only rows of instruct.json
    assert rep.counts == {NO_FEATURES: 30} and rep.examples[NO_FEATURES][0]["file"].endswith("suite.jsonl")


def test_real_sigkill_mid_run_then_resume(setup):
    """SIGKILL at whatever moment the 3rd checkpoint appears (possibly while a later one is being
    written), then --resume: the same weights as a run that was never killed."""
    import signal
    import time

    steps, extra = 60, ("--checkpoint-every", "1", "--log-every", "100")
    ref = setup / "kill-ref"
    assert train_main(_args(setup, ref, mode="clip", steps=steps, micro=2) + list(extra)) == 0
    out = setup / "killed"
    p = subprocess.Popen([sys.executable, "-m", "twinlens_train.llava.train",
                          *_args(setup, out, mode="clip", steps=steps, micro=2), *extra], cwd=HERE, env=_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = out / "checkpoints" / "last"
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if last.exists() and last.read_text().strip() >= "step-0000003":
            p.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    assert p.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "projector.safetensors").exists()
    assert train_main(_args(setup, out, mode="clip", steps=steps, micro=2) + list(extra) + ["--resume"]) == 0
    a, b = _weights(ref), _weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a), _max_diff(a, b)


def test_lora_stage2_trains_adapters_and_saves_them_merged(setup):
    """--lora-r: only the projector and the adapters train; llm/ holds W + (alpha/r) B A (a plain model the
    exporter takes), lora/ the adapters alone, and the merged model gives the adapted model's logits."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = setup / "lora"
    r = subprocess.run([sys.executable, "-m", "twinlens_train.llava.train", *_args(setup, out, mode="clip", extra=(
        "--lora-r", "4", "--lora-targets", "q_proj,v_proj"))], cwd=HERE, env=_env(), capture_output=True, text=True,
        timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    full = subprocess.run([sys.executable, "-m", "twinlens_train.llava.train", *_args(setup, setup / "full-clip",
                           mode="clip")], cwd=HERE, env=_env(), capture_output=True, text=True, timeout=240)
    n = lambda log: int(log.split(" trainable params")[0].rsplit("| ", 1)[1].replace(",", ""))  # noqa: E731
    assert n(r.stdout) < n(full.stdout) / 4  # adapters + projector, not the whole LLM
    init = load_file(str(setup / "llm" / "model.safetensors"))
    merged = load_file(str(out / "llm" / "model.safetensors"))
    assert merged.keys() == init.keys()  # no lora_A/lora_B names left: a plain transformers model
    changed = {k for k in init if not torch.equal(init[k], merged[k])}
    assert changed and all(".q_proj." in k or ".v_proj." in k for k in changed), sorted(changed)
    assert os.path.exists(out / "lora" / "adapter_config.json")
    base = AutoModelForCausalLM.from_pretrained(str(setup / "llm"), dtype=torch.float32).eval()
    adapted = PeftModel.from_pretrained(base, str(out / "lora")).eval()
    plain = AutoModelForCausalLM.from_pretrained(str(out / "llm"), dtype=torch.float32).eval()
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    with torch.no_grad():
        assert torch.allclose(adapted(input_ids=ids).logits, plain(input_ids=ids).logits, atol=1e-5)
    # another adapter shape is a different run: its checkpoints are not resumed
    with pytest.raises(ValueError, match="lora_r"):
        train_main(_args(setup, out, mode="clip", extra=("--lora-r", "8", "--lora-targets", "q_proj,v_proj",
                                                         "--resume")))
