"""Speed of ``mixed_precision=True`` (bfloat16 autocast) against float32 on the CPU.

Fits each network with and without mixed precision, interleaved, three times,
and reports the fastest fit of each and their ratio. Whether bfloat16 pays on
a CPU depends on its instructions (AMX or AVX-512 BF16 compute it natively,
others emulate it); to see an AVX2-only CPU on a newer one, cap oneDNN and
ATen::

    .venv/bin/python benchmarks/mixed_precision.py
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 .venv/bin/python benchmarks/mixed_precision.py
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from skae import AutoencoderTransformer, VAETransformer

NETWORKS = {
    "MLP autoencoder (256, 128)": (AutoencoderTransformer, {}),
    "MLP VAE (256, 128)": (VAETransformer, {}),
    "conv autoencoder (32, 64)": (AutoencoderTransformer, {"architecture": "conv"}),
    "MLP autoencoder (1024, 512), batch 256": (
        AutoencoderTransformer,
        {"hidden_layer_sizes": (1024, 512), "batch_size": 256},
    ),
}


def fit_seconds(Estimator, params: dict, X: np.ndarray, mixed_precision: bool) -> float:
    model = Estimator(
        n_components=8, max_iter=3, early_stopping=False, mixed_precision=mixed_precision,
        random_state=0, device="cpu", **params,
    )  # fmt: skip
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # 3 epochs do not converge
    X = np.random.RandomState(0).rand(args.n_samples, 784).astype(np.float32)  # 28 x 28
    AutoencoderTransformer(max_iter=1, device="cpu").fit(X[:500])  # warm-up
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"{args.n_samples} x 784, 3 epochs, 1 thread, fastest of {args.repeats}\n")
    print("| network | float32 (s) | bfloat16 autocast (s) | ratio |")
    print("|---|---:|---:|---:|")
    for name, (Estimator, params) in NETWORKS.items():
        times = {False: [], True: []}
        for _ in range(args.repeats):
            for mixed in (False, True):
                times[mixed].append(fit_seconds(Estimator, params, X, mixed))
        full, mixed = min(times[False]), min(times[True])
        print(f"| {name} | {full:.2f} | {mixed:.2f} | {mixed / full:.2f} |", flush=True)


if __name__ == "__main__":
    main()
