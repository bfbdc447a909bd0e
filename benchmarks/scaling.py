"""Scaling benchmark: one epoch at 1 and 2 torch.distributed ranks, and how an
epoch's cost grows with the rows for in-memory, memory-mapped and Dask inputs.

Measured side by side in one run, on the CPU, with
``AutoencoderTransformer(hidden_layer_sizes=(64,), n_components=8)`` on
Gaussian data of 50 features:

* **ranks**: one epoch (``max_iter=1``, the PCA start and summaries
  included) on all rows in one process, against 2 gloo ranks on 127.0.0.1,
  each fitting half the rows with the same global batch. Each rank runs one
  torch thread, and the single process too, so that the 2 ranks use twice
  the cores: on a 2-core machine that is all of them.
* **rows**: the same one-epoch fit on 1e4, 1e5 (and with ``--large`` 1e6)
  rows, from a NumPy array, from a ``np.memmap`` of a file, and streamed
  from a Dask array by ``partial_fit``, one block (1e4 rows) at a time
  (the Dask column is skipped without Dask). Reported as seconds and as
  ratios to the in-memory time and to 1e4 rows.

Run from the repository root::

    .venv/bin/python benchmarks/scaling.py            # a minute or two
    .venv/bin/python benchmarks/scaling.py --large    # adds 1e6 rows
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from skae import AutoencoderTransformer

N_FEATURES = 50
BLOCK_ROWS = 10_000
PARAMS = dict(n_components=8, hidden_layer_sizes=(64,), max_iter=1, batch_size=128, random_state=0)


def data(n_rows: int) -> np.ndarray:
    rng = np.random.RandomState(0)
    latent = rng.standard_normal((n_rows, 8)).astype(np.float32)
    mixing = rng.standard_normal((8, N_FEATURES)).astype(np.float32)
    return latent @ mixing + 0.1 * rng.standard_normal((n_rows, N_FEATURES)).astype(np.float32)


def fit_seconds(X) -> float:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not converge
        AutoencoderTransformer(**PARAMS).fit(X)
    return time.perf_counter() - start


def _rank(rank: int, world: int, port: int, n_rows: int, repeats: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=300),
    )  # fmt: skip
    X = data(n_rows)[rank::world]
    times = []
    for _ in range(repeats):
        dist.barrier()
        times.append(fit_seconds(X))
    if rank == 0:
        with open(out, "w") as file:
            file.write(",".join(map(str, times)))
    dist.destroy_process_group()


def two_ranks(n_rows: int, repeats: int) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "times")
        mp.spawn(_rank, args=(2, port, n_rows, repeats, out), nprocs=2)
        return [float(t) for t in open(out).read().split(",")]


def stream_dask(X_dask) -> float:
    start = time.perf_counter()
    model = AutoencoderTransformer(**PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X_dask)  # one block of rows at a time
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add 1e6 rows")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    n_rows = 20_000
    one = [fit_seconds(data(n_rows)) for _ in range(args.repeats)]
    two = two_ranks(n_rows, args.repeats)
    m1, m2 = statistics.median(one), statistics.median(two)
    print(f"\n## One epoch of {n_rows} x {N_FEATURES} rows (median of {args.repeats})")
    print("| ranks | seconds | ratio to 1 rank |\n|---|---|---|")
    print(f"| 1 | {m1:.2f} | 1.00 |\n| 2 (gloo) | {m2:.2f} | {m2 / m1:.2f} |")

    try:
        import dask.array as da
    except ImportError:
        da = None
    sizes = [10_000, 100_000] + ([1_000_000] if args.large else [])
    print(f"\n## One epoch against rows ({N_FEATURES} features; Dask: partial_fit per block)")
    print("| rows | in memory s | memmap s (ratio) | Dask s (ratio) | in memory / 1e4 rows |")
    print("|---|---|---|---|---|")
    base = None
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            X = data(n)
            path = os.path.join(folder, f"X{n}.npy")
            np.save(path, X)
            mapped = np.load(path, mmap_mode="r")
            memory, memmap = fit_seconds(X), fit_seconds(mapped)
            base = base or memory
            dask_cell = "(no Dask)"
            if da is not None:
                streamed = stream_dask(da.from_array(mapped, chunks=(BLOCK_ROWS, N_FEATURES)))
                dask_cell = f"{streamed:.2f} ({streamed / memory:.2f})"
            print(
                f"| {n:.0e} | {memory:.2f} | {memmap:.2f} ({memmap / memory:.2f}) | "
                f"{dask_cell} | {memory / base:.1f} |"
            )
            del mapped


if __name__ == "__main__":
    main()
