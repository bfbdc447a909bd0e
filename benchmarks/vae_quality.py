"""VAETransformer quality: MNIST log-likelihood and features, continuous-digits likelihood.

Run from the repository root (a few minutes to tens of minutes on 2 CPU cores):

    .venv/bin/python benchmarks/vae_quality.py --data-dir ../shared/data/mnist

Protocol (issue "VAETransformer"): MNIST t10k, the first 8000 images train and
the last 2000 test, pixels in [0, 1] binarised by Bernoulli sampling with a
fixed seed, ``likelihood='bernoulli'``, ``n_components=32``; held-out
log-likelihood by importance sampling (``n_importance_samples``, >= 200),
LogisticRegression accuracy on the codes against PCA's. Then load_digits made
continuous (pixels plus uniform noise in [0, 1), standardised, 70/30 split):
held-out ``score`` of the VAE against PCA and FactorAnalysis at 8 components.
Figures (a grid of samples, an interpolation strip) go to --figures-dir.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import VAETransformer
from skae.datasets import load_mnist_split


def accuracy(codes_train, y_train, codes_test, y_test) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return clf.fit(codes_train, y_train).score(codes_test, y_test)


def mnist(args) -> None:
    X_train, X_test, y_train, y_test = load_mnist_split(args.data_dir)
    rng = np.random.RandomState(0)
    X_train = (rng.uniform(size=X_train.shape) < X_train).astype(np.float32)
    X_test = (rng.uniform(size=X_test.shape) < X_test).astype(np.float32)
    vae = VAETransformer(
        n_components=32,
        likelihood="bernoulli",
        hidden_layer_sizes=tuple(args.hidden) if args.hidden else None,
        architecture=args.architecture,
        init=args.init,
        alpha=args.alpha,
        max_iter=args.max_iter,
        kl_warmup=args.kl_warmup,
        learning_rate=args.learning_rate,
        n_iter_no_change=args.n_iter_no_change,
        batch_size=args.batch_size,
        n_importance_samples=args.n_importance_samples,
        n_training_draws=args.n_training_draws,
        random_state=args.random_state,
        verbose=args.verbose,
    )
    start = time.perf_counter()
    vae.fit(X_train)
    fit_seconds = time.perf_counter() - start
    log_likelihood = vae.score(X_test)
    pca = PCA(32, random_state=0).fit(X_train)
    vae_accuracy = accuracy(vae.transform(X_train), y_train, vae.transform(X_test), y_test)
    pca_accuracy = accuracy(pca.transform(X_train), y_train, pca.transform(X_test), y_test)
    print("## Binarised MNIST (8000 train / 2000 test), n_components=32\n")
    print("| quantity | VAETransformer | PCA | ratio |\n|---|---:|---:|---:|")
    print(
        f"| held-out log-likelihood, nats/image (IWAE, K={args.n_importance_samples}) "
        f"| {log_likelihood:.2f} | — | — |"
    )
    print(
        f"| LogisticRegression accuracy on codes | {vae_accuracy:.4f} | {pca_accuracy:.4f} "
        f"| {vae_accuracy / pca_accuracy:.3f} |"
    )
    print(
        f"\nfit: {fit_seconds:.0f} s, {vae.n_iter_} epochs (best {vae.best_epoch_}), "
        f"active dimensions {vae.active_components_.sum()} of 32\n"
    )
    figures(vae, X_test, y_test, Path(args.figures_dir))


def figures(vae: VAETransformer, X_test, y_test, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    samples = vae.sample(64, random_state=0).reshape(8, 8, 28, 28)
    grid = samples.transpose(0, 2, 1, 3).reshape(8 * 28, 8 * 28)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid, cmap="gray_r")
    ax.set_title("VAETransformer samples (decoded prior draws)")
    ax.axis("off")
    fig.savefig(folder / "vae_mnist_samples.png", dpi=100, bbox_inches="tight")
    starts = [np.flatnonzero(y_test == d)[0] for d in (1, 3, 4)]
    ends = [np.flatnonzero(y_test == d)[0] for d in (7, 8, 9)]
    path = vae.interpolate(X_test[starts], X_test[ends], n_steps=10)
    strip = path.reshape(3, 10, 28, 28).transpose(0, 2, 1, 3).reshape(3 * 28, 10 * 28)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.imshow(strip, cmap="gray_r")
    ax.set_title("Latent interpolation: 1 → 7, 3 → 8, 4 → 9")
    ax.axis("off")
    fig.savefig(folder / "vae_mnist_interpolation.png", dpi=100, bbox_inches="tight")
    plt.close("all")


def continuous_digits() -> None:
    X = load_digits().data
    X = X + np.random.RandomState(0).uniform(size=X.shape)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    scores = {
        "VAETransformer": VAETransformer(n_components=8, random_state=0).fit(X_train),
        "PCA": PCA(8).fit(X_train),
        "FactorAnalysis": FactorAnalysis(8, random_state=0).fit(X_train),
    }
    print("## Continuous digits (70/30), n_components=8: held-out mean log-likelihood\n")
    print("| method | score (nats/sample) |\n|---|---:|")
    for name, model in scores.items():
        print(f"| {name} | {model.score(X_test):.2f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--figures-dir", default="benchmarks/figures")
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="*",
        default=[],
        help="hidden widths (mlp) or channels (conv); none: the estimator's default",
    )
    parser.add_argument("--architecture", choices=["mlp", "conv"], default="conv")
    parser.add_argument("--init", choices=["pca", "random"], default="pca")
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--kl-warmup", type=int, default=10)
    parser.add_argument("--learning-rate", choices=["constant", "adaptive"], default="constant")
    parser.add_argument("--n-iter-no-change", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-importance-samples", type=int, default=200)
    parser.add_argument(
        "--n-training-draws", type=int, default=1, help="1: ELBO (VAE); K > 1: IWAE bound"
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed of the MNIST VAE (data stay the same)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--skip-mnist", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    continuous_digits()
    if not args.skip_mnist:
        mnist(args)


if __name__ == "__main__":
    main()
