"""Speed of inference with cache-sized batches on the CPU against the GPU's batches.

On the CPU, ``transform``, ``inverse_transform`` and ``score_samples`` pass
batches whose widest layer holds about ``CPU_BATCH_VALUES`` values; on a GPU,
batches of about 4 MB of input (and 16,384 decodings for a VAE's scores).
This script times both batch sizes on the CPU, interleaved, side by side in
one run, and reports the fastest of five calls of each and their ratio::

    .venv/bin/python benchmarks/inference_batches.py
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from unittest.mock import patch

import numpy as np
import torch

from skae import AutoencoderTransformer, VAETransformer
from skae._batches import gpu_batch_rows, gpu_score_rows

CASES = {
    "AE MLP (256, 128), 20,000 x 64": (AutoencoderTransformer, {}, 20_000, 64),
    "AE MLP (256, 128), 8,000 x 784": (AutoencoderTransformer, {}, 8_000, 784),
    "AE conv (32, 64), 4,000 x 784": (AutoencoderTransformer, {"architecture": "conv"}, 4_000, 784),
    "VAE MLP (256, 128), 3,000 x 64": (VAETransformer, {}, 3_000, 64),
    "VAE MLP (256, 128), 1,000 x 784": (VAETransformer, {}, 1_000, 784),
    "VAE conv (32, 64), 1,000 x 784": (VAETransformer, {"architecture": "conv"}, 1_000, 784),
}


@contextmanager
def gpu_batches(model):
    """The model's inference batches sized by the GPU's rule, on the CPU."""
    rows = gpu_batch_rows(model.n_features_in_)
    score_rows = rows
    if isinstance(model, VAETransformer):
        score_rows = gpu_score_rows(model.n_features_in_, model.n_importance_samples)
    cls = type(model)
    with (
        patch.object(cls, "_inference_rows", property(lambda self: rows)),
        patch.object(cls, "_score_batch_size", property(lambda self: score_rows)),
    ):
        yield


def fastest(call, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # a 1-epoch fit does not converge: not measured here
    rng = np.random.RandomState(0)
    print("| network, data | method | GPU's batches (ms) | cache-sized (ms) | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, (Estimator, params, n_rows, n_features) in CASES.items():
        X = rng.rand(n_rows, n_features).astype(np.float32)
        model = Estimator(2, max_iter=1, random_state=0, device="cpu", **params).fit(X[:500])
        for method, (gpu, cpu) in compare(model, X).items():
            print(f"| {name} | {method} | {gpu:.0f} | {cpu:.0f} | {gpu / cpu:.2f}x |", flush=True)


def compare(model, X: np.ndarray) -> dict[str, tuple[float, float]]:
    """Milliseconds of each inference method with the GPU's and the CPU's batches."""
    codes = model.transform(X)
    methods = {
        "transform": lambda: model.transform(X),
        "inverse_transform": lambda: model.inverse_transform(codes),
        "score_samples": lambda: model.score_samples(X),
    }
    results = {}
    for method, call in methods.items():
        gpu, cpu = [], []
        for _ in range(2):  # interleaved, against drifting load
            with gpu_batches(model):
                gpu.append(fastest(call))
            cpu.append(fastest(call))
        results[method] = (min(gpu) * 1e3, min(cpu) * 1e3)
    return results


if __name__ == "__main__":
    main()
