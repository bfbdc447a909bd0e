"""GPU check: skae's estimators on CUDA, in one short run (a few minutes).

Each check runs on its own; a failing one is reported with its traceback and
the others go on, so that one run on a lent GPU tells as much as it can. The
script exits with status 1 if any check failed.

* **fit and transform** of the MLP and convolutional networks of the
  autoencoder, the VAE and the adversarial autoencoder: ``device_`` is the
  GPU, the codes are finite, and the held-out squared error is compared with
  PCA's (3 epochs: a smoke figure, not the quality benchmark);
* **bf16 autocast** (``mixed_precision=True``) against float32: fit time and
  held-out error;
* **streaming from host memory**: a fit on a memory-mapped array larger than
  the GPU memory it uses (batches gathered on the host into pinned memory and
  copied asynchronously): rows per second and the GPU's high-water mark;
* **throughput against a hand-written loop** on the GPU, the same network
  trained with ``torch.optim.Adam(fused=True)`` on data already on the GPU
  (the fastest loop a user would write), and ``transform`` against the raw
  ``encoder(x)`` forward;
* **a CUDA-fitted model loaded on the CPU**: saved, loaded with
  ``device="cpu"`` and in a subprocess that sees no GPU
  (``CUDA_VISIBLE_DEVICES=""``), giving the codes of the CUDA model;
* the GPU's **memory high-water mark** (``torch.cuda.max_memory_allocated``)
  of every check.

Run from the repository root::

    .venv/bin/python benchmarks/gpu.py                        # on the first GPU
    .venv/bin/python benchmarks/gpu.py --device cpu --quick   # a smoke run of the script

MNIST (``../shared/data/mnist``, first 8000 images train, last 2000 test) is
used when present, synthetic data of the same shape otherwise. The results go
to stdout as Markdown (and with ``--json FILE`` as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import skae  # noqa: E402
from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer  # noqa: E402
from skae.datasets import load_mnist_split  # noqa: E402

MNIST = ROOT.parent / "shared" / "data" / "mnist"
ESTIMATORS = {
    "autoencoder": AutoencoderTransformer,
    "VAE": VAETransformer,
    "adversarial": AdversarialAutoencoderTransformer,
}
N_COMPONENTS = 32
LOOP_BATCH_SIZE = 64  # the default batch of a 32-D code


def load_data(quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    n_train, n_test = (400, 200) if quick else (8000, 2000)
    try:
        X_train, X_test, _, _ = load_mnist_split(MNIST, dtype=np.float32)
        name = "MNIST"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        X_train, X_test = rng.random((8000, 784), np.float32), rng.random((2000, 784), np.float32)
        name = "synthetic uniform (MNIST not found)"
    return X_train[:n_train], X_test[:n_test], f"{name} {n_train} train / {n_test} test x 784"


def held_out_error(model, X_test: np.ndarray) -> float:
    """Mean squared error per entry of `X_test`'s reconstruction."""
    return float(np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, function: Callable, *args) -> tuple[float, object]:
    synchronize(device)
    start = time.perf_counter()
    result = function(*args)
    synchronize(device)
    return time.perf_counter() - start, result


def estimator(name: str, device: torch.device, epochs: int, **params):
    return ESTIMATORS[name](
        n_components=N_COMPONENTS, max_iter=epochs, early_stopping=False, device=device,
        random_state=0, **params,
    )  # fmt: skip


# ----------------------------------------------------------------------
# The checks: each returns its rows (dicts) or raises.


def check_fit_transform(device, X_train, X_test, epochs):
    pca = PCA(N_COMPONENTS, random_state=0).fit(X_train)
    pca_error = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
    rows = []
    for name in ESTIMATORS:
        for architecture in ("mlp", "conv"):
            shape = {"image_shape": (28, 28)} if architecture == "conv" else {}
            model = estimator(name, device, epochs, architecture=architecture, **shape)
            seconds, _ = timed(device, model.fit, X_train)
            assert model.device_.type == device.type, f"fitted on {model.device_}"
            transform_seconds, codes = timed(device, model.transform, X_test)
            assert codes.shape == (len(X_test), N_COMPONENTS) and np.isfinite(codes).all()
            error = held_out_error(model, X_test)
            rows.append({
                "check": f"fit/transform {name} {architecture}",
                "fit s": seconds,
                "transform rows/s": len(X_test) / transform_seconds,
                "error / PCA's": error / pca_error,
            })  # fmt: skip
    return rows


def check_mixed_precision(device, X_train, X_test, epochs):
    rows = []
    for architecture in ("mlp", "conv"):
        shape = {"image_shape": (28, 28)} if architecture == "conv" else {}
        result = {}
        for mixed in (False, True):
            model = estimator("autoencoder", device, epochs, architecture=architecture,
                              mixed_precision=mixed, **shape)  # fmt: skip
            seconds, _ = timed(device, model.fit, X_train)
            result[mixed] = seconds, held_out_error(model, X_test)
        rows.append({
            "check": f"bf16 autocast, autoencoder {architecture}",
            "fit s": result[True][0],
            "bf16 / float32 time": result[True][0] / result[False][0],
            "bf16 / float32 error": result[True][1] / result[False][1],
        })  # fmt: skip
    return rows


def check_streaming(device, X_train, X_test, epochs, n_rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.npy"
        X = np.lib.format.open_memmap(path, "w+", np.float32, (n_rows, X_train.shape[1]))
        for start in range(0, n_rows, len(X_train)):
            stop = min(start + len(X_train), n_rows)
            X[start:stop] = X_train[: stop - start]
        X.flush()
        X = np.load(path, mmap_mode="r")
        model = estimator("autoencoder", device, 1, batch_size=512)
        seconds, _ = timed(device, model.fit, X)
        row = {
            "check": f"streaming fit, memmap {n_rows} x 784 ({X.nbytes >> 20} MiB), batch 512",
            "fit s": seconds,
            "fit rows/s": n_rows / seconds,
        }
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(device)
            assert peak < X.nbytes, f"the GPU held {peak} bytes for {X.nbytes} bytes of data"
    return [row]


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def handwritten_fit(model: nn.Module, X: torch.Tensor, batch_size: int, epochs: int) -> None:
    """The fastest plain loop: data on the device, fused Adam, MSE."""
    fused = X.device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    for _ in range(epochs):
        order = torch.randperm(len(X), device=X.device)
        for start in range(0, len(X), batch_size):
            batch = X[order[start : start + batch_size]]
            loss = F.mse_loss(model(batch), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def check_against_loop(device, X_train, X_test, epochs):
    plain = {
        "scaling": None, "init": "random", "tol": 0.0, "n_iter_no_change": 10**6,
        "batch_size": LOOP_BATCH_SIZE,
    }  # fmt: skip
    model = estimator("autoencoder", device, epochs, hidden_layer_sizes=(512, 256), **plain)
    model.fit(X_train[:512])  # warm-up: kernels, allocator
    skae_seconds, _ = timed(device, model.fit, X_train)
    network = nn.Sequential(mlp([784, 512, 256, N_COMPONENTS]), mlp([N_COMPONENTS, 256, 512, 784]))
    network.to(device)
    X = torch.from_numpy(X_train).to(device)
    handwritten_fit(network, X[:512], LOOP_BATCH_SIZE, 1)  # warm-up
    loop_seconds, _ = timed(device, handwritten_fit, network, X, LOOP_BATCH_SIZE, epochs)
    transform_seconds, _ = timed(device, model.transform, X_train)
    host = torch.from_numpy(X_train)
    with torch.inference_mode():
        raw_seconds, _ = timed(device, lambda: network[0](host.to(device)).cpu())
    return [{
        "check": f"fit vs fused-Adam loop, MLP 784-512-256-32, batch {LOOP_BATCH_SIZE}",
        "fit s": skae_seconds,
        "skae / loop time": skae_seconds / loop_seconds,
        "transform / raw forward throughput": raw_seconds / transform_seconds,
    }]  # fmt: skip


def check_load_on_cpu(device, X_train, X_test, epochs):
    model = estimator("VAE", device, epochs).fit(X_train)
    codes = model.transform(X_test)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skae"
        model.save(path)
        loaded = skae.load(path, device="cpu")
        assert loaded.device_.type == "cpu", loaded.device_
        in_process = np.abs(loaded.transform(X_test) - codes).max()
        np.save(Path(folder) / "X_test.npy", X_test)
        script = (
            "import sys, numpy as np, skae; m = skae.load(sys.argv[1]); "
            "assert m.device_.type == 'cpu', m.device_; "
            "np.save(sys.argv[3], m.transform(np.load(sys.argv[2])))"
        )
        environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-c", script, str(path), str(Path(folder) / "X_test.npy"),
             str(Path(folder) / "codes.npy")],
            check=True, env=environment, timeout=120,
        )  # fmt: skip
        no_gpu = np.abs(np.load(Path(folder) / "codes.npy") - codes).max()
    scale = np.abs(codes).max()
    for difference in (in_process, no_gpu):
        assert difference <= 1e-3 * scale, f"codes differ by {difference} (scale {scale})"
    return [{
        "check": "VAE fitted on the device, loaded on the CPU",
        "max code difference, device='cpu'": float(in_process),
        "max code difference, no GPU visible": float(no_gpu),
    }]  # fmt: skip


def run_check(check, device, *args) -> list[dict]:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        rows = check(device, *args)
    except Exception:
        traceback.print_exc()
        return [{"check": check.__name__, "failed": traceback.format_exc(limit=3).splitlines()[-1]}]
    if device.type == "cuda":
        for row in rows:
            row["GPU peak MiB"] = torch.cuda.max_memory_allocated(device) / 2**20
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| check | results |", "|---|---|"]
    for row in rows:
        values = [
            f"{key} {value:.3g}" if isinstance(value, float) else f"{key}: {value}"
            for key, value in row.items()
            if key != "check"
        ]
        lines.append(f"| {row['check']} | {'; '.join(values)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="default: cuda (the first GPU)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on small data")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("No CUDA device: torch.cuda.is_available() is False.", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")  # a few epochs do not converge
    X_train, X_test, data = load_data(args.quick)
    epochs = 1 if args.quick else 3
    n_rows = 4_000 if args.quick else 400_000
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"# skae {skae.__version__}, torch {torch.__version__}, {name}; {data}; {epochs} epochs\n"
    )
    rows = []
    for check, extra in (
        (check_fit_transform, ()),
        (check_mixed_precision, ()),
        (check_streaming, (n_rows,)),
        (check_against_loop, ()),
        (check_load_on_cpu, ()),
    ):
        print(f"[{check.__name__}] ...", file=sys.stderr, flush=True)
        rows += run_check(check, device, X_train, X_test, epochs, *extra)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps({"device": name, "data": data, "rows": rows}, indent=1))
    return int(any("failed" in row for row in rows))


if __name__ == "__main__":
    sys.exit(main())
