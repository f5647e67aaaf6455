"""`fanion train cnn|gpt` end to end on tiny generated data: exit codes, error messages that
name the problem, the JSON schema of docs/json.md, plots, and resuming through the CLI.

Run by scripts/test.sh (FANION_BUILD_DIR selects the build, default build/)."""
import json
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FANION = os.path.join(ROOT, os.environ.get("FANION_BUILD_DIR", "build"), "fanion")


def run(*args, cwd=None, env=None):
    if not os.access(FANION, os.X_OK):
        raise AssertionError(f"{FANION} is missing: build first (scripts/build.sh)")
    return subprocess.run([FANION, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def write_cifar(folder, n=60, seed=0):
    """CIFAR-10 binary batches: label byte + 3072 pixel bytes per record; class = a bright
    row band at the top or the bottom so that a tiny net can learn something."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        labels = rng.integers(0, 2, n).astype(np.uint8)
        images = rng.integers(0, 100, (n, 3, 32, 32)).astype(np.uint8)
        for i, y in enumerate(labels):
            images[i, :, (4 if y else 24):(4 if y else 24) + 4, :] += 150
        records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
        records.astype(np.uint8).tofile(os.path.join(folder, name))
    return folder


def test_cnn_help_and_usage_errors():
    r = run("train", "cnn", "--help")
    assert r.returncode == 0 and "Table 5" in r.stdout
    for bad, word in ((["--optimizers", "adam"], "adam"), (["--widths", "4,4"], "widths"),
                      (["--epochs", "0"], "epochs"), (["--data", "mnist"], "mnist")):
        r = run("train", "cnn", *bad)
        assert r.returncode == 2, (bad, r.stderr)
        assert word in r.stderr, (bad, r.stderr)
    r = run("train", "rnn")
    assert r.returncode == 2 and "rnn" in r.stderr


def test_cnn_missing_data_names_the_path(tmp_path):
    r = run("train", "cnn", "--data-dir", str(tmp_path / "nowhere"), "--seeds", "1")
    assert r.returncode == 1
    assert str(tmp_path / "nowhere") in r.stderr


def test_cnn_on_cifar_binary_files_writes_json_and_plot(tmp_path):
    folder = write_cifar(str(tmp_path / "cifar-10-batches-bin"))
    out, png = tmp_path / "cnn.json", tmp_path / "cnn.png"
    r = run("train", "cnn", "--data", "cifar10", "--data-dir", folder, "--optimizers",
            "muon,f-muon:lr=0.3", "--seeds", "2", "--epochs", "2", "--batch-size", "50",
            "--widths", "4,4,4", "--train-size", "0", "--grad-norm-every", "3",
            "--json", str(out), "--plot", str(png), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "94.01" in r.stdout  # the paper's Table 5 column
    doc = json.loads(out.read_text())
    assert doc["command"] == "train cnn" and doc["schema_version"] == 1
    assert doc["config"]["data"] == "cifar10" and doc["config"]["train_images"] == 300
    assert [s["key"] for s in doc["summary"]] == ["muon", "f-muon"]
    assert doc["summary"][1]["optimizer"]["lr"] == 0.3
    assert len(doc["runs"]) == 4
    for run_ in doc["runs"]:
        assert 0.0 <= run_["val_accuracy"] <= 1.0
        assert [e["epoch"] for e in run_["epochs"]] == [1, 2]
        assert run_["steps"] == 2 * (300 // 50)
        assert run_["grad_norms"] and "layer2.conv1" in run_["grad_norms"][0]["layers"]
    accs = [r_["val_accuracy"] for r_ in doc["runs"][:2]]
    assert abs(doc["summary"][0]["val_accuracy_mean"] - sum(accs) / 2) < 1e-12
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cnn_alpha_sweep(tmp_path):
    folder = write_cifar(str(tmp_path / "c"), n=30)
    out = tmp_path / "a.json"
    r = run("train", "cnn", "--data", "cifar10", "--data-dir", folder, "--optimizers", "f-muon",
            "--alpha-sweep", "0,0.5,1.1", "--seeds", "1", "--epochs", "1", "--batch-size", "50",
            "--widths", "4,4,4", "--train-size", "0", "--json", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert [run_["optimizer"]["alpha"] for run_ in doc["runs"]] == [0, 0.5, 1.1]
    assert doc["config"]["alpha_sweep"] == [0, 0.5, 1.1]
    r = run("train", "cnn", "--optimizers", "muon", "--alpha-sweep", "0.5")
    assert r.returncode == 2 and "F- or S-" in r.stderr


TINY_GPT = ["--steps", "6", "--d-model", "16", "--layers", "1", "--heads", "2", "--context",
            "16", "--batch-size", "4", "--eval-every", "3", "--eval-batches", "1", "--warmup",
            "2", "--quiet"]


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "text.txt"
    p.write_text("And God said, Let there be light: and there was light.\n" * 60)
    return str(p)


def test_gpt_lr_sweep_writes_json_and_plot(tmp_path, text_file):
    out, png = tmp_path / "g.json", tmp_path / "g.png"
    r = run("train", "gpt", "--text", text_file, "--optimizers", "muon,s-muon", "--lr-sweep",
            "0.5,1", *TINY_GPT, "--json", str(out), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["command"] == "train gpt" and doc["config"]["tokenizer"] == "bytes"
    assert len(doc["summary"]) == 4 and len(doc["runs"]) == 4
    for run_ in doc["runs"]:
        assert [p[0] for p in run_["train_loss"]] == list(range(6))
        assert [p[0] for p in run_["val_loss"]] == [3, 6]
        assert run_["final_val_loss"] == run_["val_loss"][-1][1]
    assert doc["summary"][1]["lr"] == 2 * doc["summary"][0]["lr"]
    assert " * " in r.stdout or "*\n" in r.stdout or "* |" in r.stdout  # best lr starred
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gpt_resume_through_the_cli_continues_the_curve(tmp_path, text_file):
    straight, resumed, ckpt = tmp_path / "s.json", tmp_path / "r.json", tmp_path / "run.pt"
    common = ["train", "gpt", "--text", text_file, "--optimizers", "f-muon", *TINY_GPT]
    assert run(*common, "--json", str(straight)).returncode == 0
    r = run(*common, "--checkpoint", str(ckpt), "--stop-after", "4")
    assert r.returncode == 0, r.stderr
    r = run(*common, "--checkpoint", str(ckpt), "--resume", str(ckpt), "--json", str(resumed))
    assert r.returncode == 0, r.stderr
    a = json.loads(straight.read_text())["runs"][0]
    b = json.loads(resumed.read_text())["runs"][0]
    assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
    r = run(*common, "--resume", str(ckpt), "--lr-sweep", "1,2")
    assert r.returncode == 2 and "single run" in r.stderr


def test_gpt_errors_name_the_problem(tmp_path):
    r = run("train", "gpt", "--text", str(tmp_path / "missing.txt"), *TINY_GPT)
    assert r.returncode == 1 and "missing.txt" in r.stderr
    r = run("train", "gpt", "--heads", "3", "--d-model", "16", "--text", __file__)
    assert r.returncode != 0 and "n_head" in r.stderr
    r = run("train", "gpt", "--tokenizer", "wordpiece", "--text", __file__, *TINY_GPT)
    assert r.returncode != 0 and "wordpiece" in r.stderr


def test_gpt_with_gpt2_tokens(tmp_path, text_file):
    vocab = os.path.join(ROOT, ".deps", "gpt2")
    if not os.path.exists(os.path.join(vocab, "encoder.json")):
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{vocab} missing: scripts/setup.sh installs it")
        pytest.skip("GPT-2 vocabulary not installed (scripts/setup.sh)")
    out = tmp_path / "g.json"
    r = run("train", "gpt", "--text", text_file, "--tokenizer", "gpt2", "--optimizers", "f-muon",
            *TINY_GPT, "--json", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["config"]["tokenizer"] == "gpt2" and doc["config"]["vocab_size"] == 50257
    # "And God said, Let there be light: and there was light.\n" is 15 GPT-2 tokens
    assert doc["config"]["train_tokens"] + doc["config"]["val_tokens"] == 60 * 15
