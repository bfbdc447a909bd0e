"""What parts of skae's network and loss cost per training step, in a plain loop.

The same hand-written loop (fused Adam, batches gathered from one tensor)
trains, on the two networks of ``benchmarks/speed.py``:

* the plain MLP autoencoder with ``F.mse_loss``;
* the same with skae's reconstruction loss, which masks missing entries
  (``complete=False``), and with its mask-free path for complete data;
* skae's fitted network at the defaults, whose PCA start adds a linear
  shortcut beside the encoder and the decoder, with ``F.mse_loss``.

Each is run `--repeats` times, interleaved, 400 steps each; the medians of
the milliseconds per step are printed::

    .venv/bin/python benchmarks/step_costs.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed

from skae._losses import fill_missing, reconstruction_loss


def milliseconds_per_step(model: nn.Module, loss_of, X: torch.Tensor, batch_size: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    order, steps = torch.randperm(len(X)), 400
    start = time.perf_counter()
    for step in range(steps):
        first = (step * batch_size) % (len(X) - batch_size)
        batch = X[order[first : first + batch_size]]
        loss = loss_of(model, batch).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


def losses() -> dict:
    return {
        "plain network, F.mse_loss": lambda m, x: F.mse_loss(m(x), x, reduction="none"),
        "plain network, skae's loss with masks": lambda m, x: reconstruction_loss(
            m(fill_missing(x)), x, "mse"
        ),
        "plain network, skae's loss for complete data": lambda m, x: reconstruction_loss(
            m(x), x, "mse", complete=True
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    for cfg in speed.configs(quick=False):
        X = torch.from_numpy(cfg.X)
        plain = nn.Sequential(*speed.autoencoder(X.shape[1], cfg))
        fitted = speed.make_skae(speed.replace(cfg, epochs=1), defaults=True).fit(cfg.X)
        shortcut = fitted.network_.train()
        runs = {name: (plain, loss) for name, loss in losses().items()}
        runs["skae's network (PCA-start shortcuts), F.mse_loss"] = (
            shortcut,
            lambda m, x: F.mse_loss(m(x), x, reduction="none"),
        )
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeats):
            names = list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]
            for name in names:
                model, loss = runs[name]
                times[name].append(milliseconds_per_step(model, loss, X, cfg.batch_size))
        arch = "-".join(map(str, [X.shape[1], *cfg.hidden, cfg.n_components]))
        print(f"\n**{cfg.name}**, MLP {arch}, batch {cfg.batch_size}; medians of {args.repeats}\n")
        print("| | ms per step | ratio |")
        print("|---|---:|---:|")
        base = statistics.median(times["plain network, F.mse_loss"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.3f} | {median / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
