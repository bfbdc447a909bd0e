"""Torch threads on shared cores: one epoch of the default autoencoder, with
1 or all torch threads, OpenMP's default or passive wait policy, on idle
cores and on cores that other processes keep busy.

OpenMP threads that wait for each other spin (``OMP_WAIT_POLICY=ACTIVE``
behaviour, the default of the OpenMP torch uses for a while after each
region) and, when another process holds a core, a parallel region waits for
a thread that is not running. Each setting runs in a fresh process (the wait
policy is read when OpenMP starts), `--repeats` times, interleaved; the table
gives the median seconds of ``fit`` and the ratio to one thread on idle
cores. The busy processes, one per core, started before and stopped after
each measurement, are pure-Python loops or (``--competitors torch``) torch
processes computing matrix products on all their threads::

    .venv/bin/python benchmarks/threads.py                          # a few minutes
    .venv/bin/python benchmarks/threads.py --competitors torch
    .venv/bin/python benchmarks/threads.py --quick                  # a smoke run
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys, time, warnings
import numpy as np, torch
sys.path.insert(0, {root!r})
from skae import AutoencoderTransformer
warnings.simplefilter("ignore")
torch.set_num_threads({threads})
X = np.random.default_rng(0).random(({rows}, 784), dtype=np.float32)
AutoencoderTransformer(max_iter=1, device="cpu", random_state=0).fit(X[:256])
start = time.perf_counter()
AutoencoderTransformer(max_iter=1, device="cpu", random_state=0).fit(X)
print(time.perf_counter() - start)
"""


def spin() -> None:
    while True:
        pass


def spin_torch() -> None:
    """An OpenMP program competing for the cores: torch products on all threads."""
    import torch

    a = torch.randn(512, 512)
    while True:
        a = torch.tanh(a @ a)


def fit_seconds(threads: int, policy: str | None, busy: int, rows: int, kind: str) -> float:
    environment = dict(os.environ)
    environment.pop("OMP_WAIT_POLICY", None)
    if policy:
        environment["OMP_WAIT_POLICY"] = policy
    target = spin_torch if kind == "torch" else spin
    context = multiprocessing.get_context("spawn")  # a fresh OpenMP in each competitor
    spinners = [context.Process(target=target, daemon=True) for _ in range(busy)]
    for process in spinners:
        process.start()
    try:
        code = CHILD.format(root=str(ROOT), threads=threads, rows=rows)
        result = subprocess.run(
            [sys.executable, "-c", code], env=environment, capture_output=True, text=True,
            timeout=600, check=True,
        )  # fmt: skip
    finally:
        for process in spinners:
            process.terminate()
            process.join()
    return float(result.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on small data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--competitors",
        choices=["python", "torch"],
        default="python",
        help="busy pure-Python loops, or torch processes computing on all their threads",
    )
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    rows = 500 if args.quick else 4000
    repeats = 1 if args.quick else args.repeats
    settings = [
        (threads, policy, busy)
        for busy in (0, cores)
        for threads in sorted({1, cores})
        for policy in (None, "PASSIVE")
    ]
    times: dict[tuple, list[float]] = {setting: [] for setting in settings}
    for r in range(repeats):
        for setting in settings[r % len(settings) :] + settings[: r % len(settings)]:
            times[setting].append(fit_seconds(*setting, rows, args.competitors))
            print(setting, f"{times[setting][-1]:.3g}", file=sys.stderr, flush=True)
    base = statistics.median(times[(1, None, 0)])
    print(
        f"{rows} x 784, one epoch of AutoencoderTransformer() on {cores} cores, "
        f"{args.competitors} competitors; medians\n"
    )
    print("| busy processes | torch threads | OMP_WAIT_POLICY | fit (s) | ratio |")
    print("|---:|---:|---|---:|---:|")
    for (threads, policy, busy), values in times.items():
        seconds = statistics.median(values)
        row = f"| {busy} | {threads} | {policy or 'unset'} | {seconds:.3g} |"
        print(f"{row} {seconds / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
