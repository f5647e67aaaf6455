"""Bad command lines, unwritable outputs and wrong checkpoints are refused before any work
starts, with a message that names the option or file, the subcommand in its prefix and no C++
stack frames (exit code 2 for a usage error, 1 for a bad file)."""
import os
import subprocess
import time

import pytest

from test_train_cli import FANION, TINY_GPT, run


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "text.txt"
    p.write_text("In the beginning God created the heaven and the earth.\n" * 60)
    return str(p)


def gpt(text_file, *args):
    return run("train", "gpt", "--text", text_file, "--optimizers", "muon", *TINY_GPT, *args)


def no_stack_frames(stderr):
    return "frame #" not in stderr and "Exception raised from" not in stderr


def test_output_paths_are_checked_before_any_work(tmp_path, text_file):
    missing = str(tmp_path / "no-such-dir" / "out.json")
    commands = {
        "train gpt": lambda *a: gpt(text_file, *a),
        "lsq": lambda *a: run("lsq", "--m", "20", "--n", "10", "--algorithms", "muon", *a),
        "bench polar": lambda *a: run("bench", "polar", "--sizes", "16", *a),
    }
    for name, cmd in commands.items():
        for option in (["--json"], ["--plot"]) if name != "bench polar" else (["--json"],):
            r = cmd(option[0], missing)
            assert r.returncode == 2, (name, option, r.stderr)
            assert r.stderr.startswith(f"fanion {name}: error: {option[0]}: the directory "), \
                r.stderr
            assert "does not exist" in r.stderr and r.stdout == "", (name, r.stdout)
        r = cmd("--json", str(tmp_path))
        assert r.returncode == 2 and "is a directory" in r.stderr, (name, r.stderr)
    r = gpt(text_file, "--plot", "/proc/fanion-plot.png")
    assert r.returncode == 2 and "--plot: cannot write '/proc/fanion-plot.png'" in r.stderr
    r = gpt(text_file, "--checkpoint", missing)
    assert r.returncode == 2 and "--checkpoint: the directory" in r.stderr, r.stderr
    if os.geteuid() != 0:  # root writes into a read-only directory anyway
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        r = gpt(text_file, "--json", str(ro / "out.json"))
        assert r.returncode == 2 and "cannot write" in r.stderr, r.stderr
    assert not os.path.exists(missing)


def test_stop_after_needs_a_checkpoint(text_file):
    r = gpt(text_file, "--stop-after", "3")
    assert r.returncode == 2 and "--stop-after: needs --checkpoint" in r.stderr, r.stderr


def test_a_failing_plot_keeps_the_json(tmp_path, text_file):
    failing = tmp_path / "plot.py"
    failing.write_text("import sys\nsys.exit(1)\n")
    env = dict(os.environ, FANION_PLOT_TRAIN=str(failing))
    base = [FANION, "train", "gpt", "--text", text_file, "--optimizers", "muon", *TINY_GPT]
    out = tmp_path / "out.json"
    r = subprocess.run(base + ["--json", str(out), "--plot", str(tmp_path / "p.png")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 1 and "plotting failed" in r.stderr and out.stat().st_size > 0
    r = subprocess.run(base + ["--plot", str(tmp_path / "p.png")], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 1, r.stderr
    kept = r.stderr.split("the results are in ")[1].strip()
    assert os.path.getsize(kept) > 0
    os.remove(kept)


@pytest.mark.parametrize("args, words", [
    (["--optimizers", "s-muon:sign=-1"], ["s-muon", "sign must be positive", "-1"]),
    (["--optimizers", "muon:alpha=0.3"], ["muon has no alpha"]),
    (["--optimizers", "f-muon:sign_lr_coeff=0.1"], ["f-muon has no sign-lr-coeff"]),
    (["--optimizers", "muon:lr=0x10"], ["expected a decimal number", "0x10"]),
    (["--checkpoint-every", "-1"], ["--checkpoint-every: must be >= 0, got -1"]),
    (["--seed", "-1"], ["--seed: must be >= 0, got -1"]),
    (["--val-fraction", "1.5"], ["--val-fraction"]),
])
def test_gpt_usage_errors(text_file, args, words):
    r = gpt(text_file, *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("fanion train gpt: error: "), r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


@pytest.mark.parametrize("args, words", [
    (["train", "cnn", "--grad-norm-every", "-2"], ["--grad-norm-every: must be >= 0"]),
    (["train", "cnn", "--seed", "-1"], ["--seed: must be >= 0"]),
    (["lsq", "--seed", "-3"], ["--seed must be >= 0"]),
    (["bench", "polar", "--dtype", "foo"], ["--dtype", "foo"]),
    (["bench", "polar", "--dtype", "float16"], ["--dtype", "float16"]),
    (["bench", "polar", "--repeats", "0"], ["--repeats: must be >= 1"]),
    (["bench", "polar", "--seed", "-1"], ["--seed: must be >= 0"]),
    (["bench", "lowrank", "--tight", "-1e-8"], ["--tight: must be positive"]),
    (["bench", "lowrank", "--cases", "10:20"], ["--cases", "1 <= k <= n"]),
    # --threads means the same everywhere: at least one thread.
    (["bench", "polar", "--threads", "0"], ["--threads: must be >= 1"]),
    (["lsq", "--threads", "0"], ["--threads: must be >= 1"]),
    (["lsq", "--instance", "gpu"], ["--instance", "fanion or authors", "gpu"]),
    (["lsq", "--cuda-geometry", "132x2048"], ["--cuda-geometry: only with --instance authors"]),
    (["lsq", "--authors", "--cuda-geometry", "48x100"], ["--cuda-geometry", "48x100"]),
    (["lsq", "--ns-dtype", "float16"], ["--ns-dtype", "bfloat16", "float16"]),
    (["lsq", "--dtype", "bfloat16"], ["--dtype", "float64 or float32", "bfloat16"]),
    (["lsq", "--check-every", "0"], ["--check-every: must be >= 1"]),
    (["train", "cnn", "--threads", "0"], ["--threads: must be >= 1"]),
])
def test_other_usage_errors(args, words):
    r = run(*args)
    assert r.returncode == 2, (args, r.stderr)
    prefix = "fanion " + " ".join(a for a in args[:2] if not a.startswith("-"))
    assert r.stderr.startswith(prefix + ": error: "), r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_cuda_on_a_machine_without_one_is_refused_before_loading_data(text_file):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    start = time.monotonic()
    r = run("train", "cnn", "--device", "cuda", "--data", "cifar10", "--data-dir", "/nonexistent")
    assert r.returncode == 2 and "--device cuda: " in r.stderr, r.stderr
    assert "/nonexistent" not in r.stderr  # refused before the data was looked at
    r = run("bench", "polar", "--device", "cuda")
    assert r.returncode == 2 and "--device cuda" in r.stderr
    assert time.monotonic() - start < 60


def test_torch_errors_come_without_stack_frames():
    r = run("bench", "polar", "--sizes", "3000000", "--repeats", "1", "--quiet")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("fanion bench polar: error: "), r.stderr
    assert no_stack_frames(r.stderr), r.stderr


def test_a_checkpoint_resumes_only_the_same_run_and_only_intact(tmp_path, text_file):
    ckpt = tmp_path / "run.pt"
    r = gpt(text_file, "--checkpoint", str(ckpt), "--stop-after", "3")
    assert r.returncode == 0, r.stderr
    for args, words in ((["--warmup", "5"], "warmup: saved 2, now 5"),
                        (["--adamw-lr", "0.01"], "adamw_lr: saved"),
                        (["--grad-clip", "0.5"], "grad_clip: saved 1, now 0.5"),
                        (["--val-fraction", "0.2"], "tokens: saved"),
                        (["--max-chars", "2000"], "data: saved")):
        r = gpt(text_file, "--resume", str(ckpt), *args)
        assert r.returncode == 1, (args, r.stderr)
        assert "is of another run: " in r.stderr and words in r.stderr, (args, r.stderr)
    good = ckpt.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x5A
    ckpt.write_bytes(bytes(bad))
    r = gpt(text_file, "--resume", str(ckpt))
    assert r.returncode == 1 and str(ckpt) in r.stderr, r.stderr
    assert "corrupted" in r.stderr or "cannot read checkpoint" in r.stderr, r.stderr
    assert no_stack_frames(r.stderr), r.stderr
    r = gpt(text_file, "--resume", str(tmp_path / "missing.pt"))
    assert r.returncode == 2 and "--resume: cannot read" in r.stderr


def test_version_and_top_level_help():
    import fanion  # the package of the same build (PYTHONPATH)

    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"fanion {fanion.__version__} (LibTorch "), r.stdout
    h = run("--help")
    assert h.returncode == 0
    for command in ("lsq", "bench", "train", "step", "--version"):
        assert command in h.stdout, (command, h.stdout)


def test_bench_json_names_its_command_and_schema(tmp_path):
    import json

    out = tmp_path / "polar.json"
    r = run("bench", "polar", "--sizes", "16", "--repeats", "1", "--json", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["command"] == "bench polar" and doc["schema_version"] == 1
    assert doc["rows"] and all(row["n"] == 16 for row in doc["rows"])


def test_bench_shows_progress_per_case_and_quiet_silences_it():
    args = ["bench", "polar", "--sizes", "20,24", "--repeats", "1", "--max-steps", "4"]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "[1/2] 20x20" in r.stderr and "[2/2] 24x24" in r.stderr and "left]" in r.stderr, r.stderr
    q = run(*args, "--quiet")
    assert q.returncode == 0 and q.stderr == "", q.stderr
    assert q.stdout.count("\n") == r.stdout.count("\n")  # the same rows
