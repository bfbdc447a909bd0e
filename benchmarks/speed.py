"""Speed benchmark: skae's training engine and ``transform`` against plain torch.

Measures, side by side in one run and on the CPU:

* the ``fit`` time of :class:`skae.AutoencoderTransformer` against a minimal
  hand-written torch loop training the same network (same layers, Adam with
  lr 1e-3, same batch size and number of epochs, MSE loss), and, when they are
  installed, against skorch's ``NeuralNet`` and PyOD's ``AutoEncoder`` at equal
  architecture, batch size and epochs;
* the ``transform`` throughput against the raw ``encoder(x)`` forward pass
  under ``torch.inference_mode()`` on the same tensor.

Every measurement is repeated, the competitors are interleaved (the order
rotates from one repeat to the next, so that background load hits all of them
alike) and the median is reported. The estimator's ``fit`` does all its usual
work (input validation, the summary of the training codes); it is built with
``scaling=None, tol=0.0, n_iter_no_change=10**6`` so that it runs exactly
``epochs`` epochs on the raw data, like the others.

Run from the repository root::

    .venv/bin/python benchmarks/speed.py            # the full run (a few minutes)
    .venv/bin/python benchmarks/speed.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import skae  # noqa: E402
from skae import AutoencoderTransformer  # noqa: E402

MNIST = ROOT.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"


@dataclass
class Config:
    name: str
    X: np.ndarray
    hidden: tuple[int, ...]
    n_components: int
    batch_size: int
    epochs: int
    repeats: int


# ----------------------------------------------------------------------
# Data


def load_mnist(n_samples: int) -> np.ndarray | None:
    """The first `n_samples` MNIST test images as float32 in [0, 1], or None."""
    if not MNIST.exists():
        return None
    with gzip.open(MNIST, "rb") as f:
        payload = f.read()
    pixels = np.frombuffer(payload, dtype=np.uint8, offset=16).reshape(-1, 784)
    return (pixels[:n_samples].astype(np.float32)) / 255.0


def configs(quick: bool) -> list[Config]:
    rng = np.random.default_rng(0)
    n_images = 1000 if quick else 8000
    images = load_mnist(n_images)
    image_name = f"MNIST {n_images}x784"
    if images is None:
        images = rng.random((n_images, 784), dtype=np.float32)
        image_name = f"synthetic uniform {n_images}x784 (MNIST not found)"
    n_rows = 1000 if quick else 5000
    tabular = rng.standard_normal((n_rows, 20)).astype(np.float32)
    epochs = 1 if quick else 5
    repeats = 2 if quick else 5
    return [
        Config(image_name, images, (512, 256), 32, 128, epochs, repeats),
        Config(f"synthetic normal {n_rows}x20", tabular, (64, 32), 4, 32, epochs, repeats + 2),
    ]


# ----------------------------------------------------------------------
# The competitors: each builds its model, then times only its ``fit``.


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def autoencoder(n_features: int, cfg: Config) -> tuple[nn.Module, nn.Module]:
    encoder = mlp([n_features, *cfg.hidden, cfg.n_components])
    decoder = mlp([cfg.n_components, *cfg.hidden[::-1], n_features])
    return encoder, decoder


def fit_handwritten(cfg: Config, fused: bool = True) -> float:
    """The minimal straightforward torch loop; with `fused`, Adam's fused
    kernel (the fair baseline: skae uses it), else torch's default Adam."""
    X = torch.from_numpy(cfg.X)
    encoder, decoder = autoencoder(X.shape[1], cfg)
    model = nn.Sequential(encoder, decoder)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
    n, bs = X.shape[0], cfg.batch_size
    start = time.perf_counter()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            xb = X[perm[i : i + bs]]
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def make_skae(cfg: Config, defaults: bool = False) -> AutoencoderTransformer:
    """The estimator on the competitors' network; with `defaults`, every other
    parameter at its default (scaling, the PCA start and its linear
    shortcuts, early stopping on a tenth of the rows)."""
    shape = {
        "n_components": cfg.n_components,
        "hidden_layer_sizes": cfg.hidden,
        "batch_size": cfg.batch_size,
        "max_iter": cfg.epochs,
        "device": "cpu",
        "random_state": 0,
    }
    if defaults:
        return AutoencoderTransformer(**shape)
    # The same plain network as the others: no validation split, no PCA
    # initialisation (its linear shortcuts are extra layers), no scaling.
    return AutoencoderTransformer(
        learning_rate_init=1e-3, scaling=None, early_stopping=False, init="random", tol=0.0,
        n_iter_no_change=10**6, **shape,
    )  # fmt: skip


def fit_skae(cfg: Config, defaults: bool = False) -> float:
    estimator = make_skae(cfg, defaults)
    start = time.perf_counter()
    estimator.fit(cfg.X)
    return time.perf_counter() - start


def partial_fit_skae(cfg: Config) -> float:
    """``cfg.epochs`` calls of ``partial_fit`` on all of X: as many epochs as
    the plain ``fit``."""
    estimator = make_skae(cfg)
    start = time.perf_counter()
    for _ in range(cfg.epochs):
        estimator.partial_fit(cfg.X)
    return time.perf_counter() - start


def fit_skorch(cfg: Config) -> float:
    from skorch import NeuralNet

    class AE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.decoder = autoencoder(cfg.X.shape[1], cfg)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    net = NeuralNet(
        AE,
        criterion=nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        iterator_train__shuffle=True,
        train_split=None,
        device="cpu",
        verbose=0,
    )
    start = time.perf_counter()
    net.fit(cfg.X, cfg.X)
    return time.perf_counter() - start


def fit_pyod(cfg: Config) -> float:
    from pyod.models.auto_encoder import AutoEncoder

    # PyOD's blocks are Linear + activation (+ batch norm, + dropout): with
    # those two off, [*hidden, n_components] gives the same layers, except for
    # a ReLU on the code.
    detector = AutoEncoder(
        preprocessing=False,
        lr=1e-3,
        epoch_num=cfg.epochs,
        batch_size=cfg.batch_size,
        optimizer_params={"weight_decay": 0.0},
        hidden_neuron_list=[*cfg.hidden, cfg.n_components],
        batch_norm=False,
        dropout_rate=0.0,
        device="cpu",
        verbose=0,
    )
    start = time.perf_counter()
    detector.fit(cfg.X)
    return time.perf_counter() - start


def available_peers() -> dict[str, Callable[[Config], float]]:
    peers: dict[str, Callable[[Config], float]] = {}
    for name, module, runner in (
        ("skorch NeuralNet", "skorch", fit_skorch),
        ("PyOD AutoEncoder", "pyod", fit_pyod),
    ):
        try:
            __import__(module)
        except Exception as error:  # any import failure means "skip"
            print(f"[skip] {name}: cannot import {module} ({error})", file=sys.stderr)
        else:
            peers[name] = runner
    return peers


# ----------------------------------------------------------------------
# Timing

LOOP = "hand-written loop, fused Adam"
PLAIN = "skae, plain network"
DEFAULTS = "skae at the defaults"
PARTIAL = "skae, plain network, one partial_fit per epoch"


def interleaved(
    runners: dict[str, Callable[[], float]],
    repeats: int,
    warm_ups: dict[str, Callable[[], float]] | None = None,
) -> dict[str, list[float]]:
    """Each runner `repeats` times, in an order that rotates from round to round,
    after one untimed round of `warm_ups` (default: of the runners themselves)."""
    for warm_up in (warm_ups or runners).values():
        warm_up()
    names = list(runners)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(runners[name]())
    return times


def fit_runners(cfg: Config, peers: dict[str, Callable[[Config], float]]):
    runners = {
        LOOP: fit_handwritten,
        "hand-written loop, torch's default Adam": partial(fit_handwritten, fused=False),
        PLAIN: fit_skae,
        DEFAULTS: partial(fit_skae, defaults=True),
        PARTIAL: partial_fit_skae,
    }
    return {name: partial(f, cfg) for name, f in {**runners, **peers}.items()}


RAW, TRANSFORM = "raw encoder(x), inference_mode", "AutoencoderTransformer.transform"
RAW_ROW, TRANSFORM_ROW = "one row: raw encoder(x[:1])", "one row: transform(X[:1])"


def transform_runners(cfg: Config) -> dict[str, Callable[[], float]]:
    """Seconds per pass over the data, and per single row: the ``transform``
    of the estimator at the defaults (fitted one epoch) and its raw encoder
    under ``inference_mode``, each looped for at least 0.2 s."""
    estimator = make_skae(replace(cfg, epochs=1), defaults=True).fit(cfg.X)
    encoder = estimator.network_.encoder
    tensor = torch.from_numpy(cfg.X)

    def raw(rows: torch.Tensor) -> None:
        with torch.inference_mode():
            encoder(rows)

    def looped(function: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < 0.2:
                function()
                count += 1
            return elapsed / count

        return run

    return {
        RAW: looped(partial(raw, tensor)),
        TRANSFORM: looped(partial(estimator.transform, cfg.X)),
        RAW_ROW: looped(partial(raw, tensor[:1])),
        TRANSFORM_ROW: looped(partial(estimator.transform, cfg.X[:1])),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def fit_lines(fit: dict[str, float]) -> list[str]:
    loop, plain, defaults = fit[LOOP], fit[PLAIN], fit[DEFAULTS]
    targets = {
        DEFAULTS: "<= 1.0x the fused loop",
        PLAIN: "",
        PARTIAL: f"{fit[PARTIAL] / plain:.2f}x the plain fit; target <= 1.0x",
    }
    lines = []
    for name, seconds in fit.items():
        target = targets.get(name, "")
        if name not in targets and name not in (LOOP, "hand-written loop, torch's default Adam"):
            target = f"slower than skae (skae at the defaults takes {defaults / seconds:.2f}x)"
        lines.append(f"| fit: {name} | {seconds:.3g} | {seconds / loop:.2f}x | {target} |")
    return lines


def transform_lines(transform: dict[str, float]) -> list[str]:
    throughput = transform[RAW] / transform[TRANSFORM]
    latency = transform[TRANSFORM_ROW] / transform[RAW_ROW]
    return [
        f"| transform: {RAW} | {transform[RAW]:.3g} | 1.00x throughput | |",
        f"| transform: {TRANSFORM} | {transform[TRANSFORM]:.3g} | {throughput:.2f}x throughput "
        "| >= 0.9x |",
        f"| latency: {RAW_ROW} | {transform[RAW_ROW]:.3g} | 1.00x | |",
        f"| latency: {TRANSFORM_ROW} | {transform[TRANSFORM_ROW]:.3g} | {latency:.2f}x the raw "
        "latency | <= 2x |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on small data")
    parser.add_argument("--no-peers", action="store_true", help="skip skorch and PyOD")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per config")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads for everyone (default: torch's default)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)

    peers = {} if args.no_peers else available_peers()
    setting = (
        f"torch {torch.__version__}, skae {skae.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"{setting}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    lines: list[str] = []
    for cfg in configs(args.quick):
        if args.repeats:
            cfg.repeats = args.repeats
        arch = "-".join(map(str, [cfg.X.shape[1], *cfg.hidden, cfg.n_components]))
        lines += [
            "",
            f"**{cfg.name}**, MLP {arch} (ReLU), Adam lr 1e-3, batch {cfg.batch_size}, "
            f"{cfg.epochs} epoch(s); medians of {cfg.repeats} interleaved runs",
            "",
            "| | median seconds | ratio | target |",
            "|---|---:|---:|---|",
        ]
        print(f"[{cfg.name}] fit ...", file=sys.stderr)
        # The warm-up (imports, first kernels, allocator) is a short fit.
        small = replace(cfg, X=cfg.X[: 4 * cfg.batch_size], epochs=1)
        fit_times = interleaved(fit_runners(cfg, peers), cfg.repeats, fit_runners(small, peers))
        print(
            "  fit times: "
            + "; ".join(f"{k}: {', '.join(f'{v:.3g}' for v in vs)}" for k, vs in fit_times.items()),
            file=sys.stderr,
        )
        lines += fit_lines({name: median(values) for name, values in fit_times.items()})
        print(f"[{cfg.name}] transform ...", file=sys.stderr)
        transform_times = interleaved(transform_runners(cfg), cfg.repeats)
        lines += transform_lines({name: median(values) for name, values in transform_times.items()})
    lines.append("")
    lines.append(f"{setting}; load average {os.getloadavg()[0]:.1f} at the end.")
    print("\n".join(lines[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
