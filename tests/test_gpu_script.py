"""benchmarks/gpu.py, the GPU check, runs on the CPU too: its smoke run here
keeps it working between the rare runs on a lent GPU."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"


@pytest.fixture(scope="module")
def gpu_script():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_check_passes_on_the_cpu(gpu_script, tmp_path, capsys):
    assert gpu_script.main(["--device", "cpu", "--quick", "--json", str(tmp_path / "r.json")]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    checks = " ".join(row["check"] for row in rows)
    for name in ("autoencoder conv", "VAE mlp", "adversarial conv", "bf16", "streaming",
                 "fused-Adam", "loaded on the CPU"):  # fmt: skip
        assert name in checks
    assert not [row for row in rows if "failed" in row]
    assert all(
        row["max code difference, no GPU visible"] == 0 for row in rows if "loaded" in row["check"]
    )
    assert "| fit/transform VAE conv |" in capsys.readouterr().out


def test_a_failing_check_is_reported_and_the_others_run(gpu_script, monkeypatch, tmp_path):
    def broken(*args):
        raise RuntimeError("no kernel image")

    monkeypatch.setattr(gpu_script, "check_fit_transform", broken)
    monkeypatch.setattr(gpu_script, "check_mixed_precision", lambda *args: [{"check": "ran"}])
    for name in ("check_streaming", "check_against_loop", "check_load_on_cpu"):
        monkeypatch.setattr(gpu_script, name, lambda *args: [{"check": "ran"}])
    path = tmp_path / "r.json"
    assert gpu_script.main(["--device", "cpu", "--quick", "--json", str(path)]) == 1
    rows = json.loads(path.read_text())["rows"]
    assert rows[0] == {"check": "broken", "failed": "RuntimeError: no kernel image"}
    assert [row["check"] for row in rows[1:]] == ["ran"] * 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_no_cuda_is_a_clear_exit(gpu_script, capsys):
    assert gpu_script.main([]) == 2
    assert "No CUDA device" in capsys.readouterr().err
