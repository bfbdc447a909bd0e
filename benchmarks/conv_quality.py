"""Convolutional and denoising autoencoders on MNIST, against PCA and a plain MLP autoencoder.

Run from the repository root (about 15 minutes on 2 CPU cores):

    .venv/bin/python benchmarks/conv_quality.py --data-dir ../shared/data/mnist

Protocol (issue "Image-aware networks and denoising"): MNIST t10k, the first
8000 images train and the last 2000 test, pixels in [0, 1], n_components=32:

- reconstruction squared error per test image (summed over the 784 pixels,
  averaged over images, as in Hinton & Salakhutdinov, 2006) of the
  convolutional AE against PCA's;
- n_components=2: LogisticRegression accuracy on the codes, of the conv AE
  and of an MLP AE with the parametric t-SNE term (``neighbor_weight``);
- denoising: test images with Gaussian noise (sigma 0.3) and, separately, 30%
  masking; the distance (MSE) of each model's output from the clean image.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import load_mnist_split

SECTIONS = ["reconstruction", "map", "denoising"]


def conv_autoencoder(n_components: int, args, **params) -> AutoencoderTransformer:
    return AutoencoderTransformer(
        n_components,
        architecture="conv",
        hidden_layer_sizes=tuple(args.channels),
        loss=args.loss,
        max_iter=args.max_iter,
        batch_size=args.batch_size,
        random_state=0,
        verbose=args.verbose,
        **params,
    )


def fit(model, X):
    start = time.perf_counter()
    model.fit(X)
    return model, time.perf_counter() - start


def squared_error_per_image(model, X_in, X_clean) -> float:
    return float(np.sum((model.inverse_transform(model.transform(X_in)) - X_clean) ** 2, 1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--max-iter", type=int, default=60)
    parser.add_argument(
        "--loss",
        choices=["mse", "bce"],
        default="bce",
        help="the conv AEs' loss (cross-entropy suits pixels in [0, 1])",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=SECTIONS,
        help="which parts to run (default: all)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_mnist_split(args.data_dir)
    conv = None
    if "reconstruction" in args.sections:
        conv = reconstruction(args, *data)
    if "map" in args.sections:
        two_dimensional_map(args, *data)
    if "denoising" in args.sections:
        # The plain conv AE of the reconstruction part is the reference.
        if conv is None:
            conv, _ = fit(conv_autoencoder(32, args), data[0])
        denoising(args, conv, *data)


def reconstruction(args, X_train, X_test, y_train, y_test) -> AutoencoderTransformer:
    pca = PCA(32, random_state=0).fit(X_train)
    conv, conv_seconds = fit(conv_autoencoder(32, args), X_train)
    mlp, mlp_seconds = fit(
        AutoencoderTransformer(32, max_iter=args.max_iter, random_state=0), X_train
    )
    errors = {m: squared_error_per_image(m, X_test, X_test) for m in (pca, conv, mlp)}
    print("## Reconstruction, n_components=32 (squared error per test image)\n")
    print("| method | SE / image | ratio to PCA | fit s |\n|---|---:|---:|---:|")
    for name, model, seconds in [
        ("PCA", pca, 0.0),
        ("conv AE", conv, conv_seconds),
        ("MLP AE", mlp, mlp_seconds),
    ]:
        print(
            f"| {name} | {errors[model]:.2f} | {errors[model] / errors[pca]:.3f} | {seconds:.0f} |"
        )
    return conv


def two_dimensional_map(args, X_train, X_test, y_train, y_test) -> None:
    models = {
        "PCA": fit(PCA(2, random_state=0), X_train),
        "conv AE": fit(conv_autoencoder(2, args), X_train),
        "MLP AE, init='random'": fit(
            AutoencoderTransformer(2, init="random", random_state=0), X_train
        ),
        # Neighbours are found within a batch: batches of 500 resolve the
        # local structure of 7200 training images where batches of 64 do not.
        "MLP AE, init='random', neighbor_weight=10": fit(
            AutoencoderTransformer(
                2,
                init="random",
                neighbor_weight=10.0,
                batch_size=500,
                n_iter_no_change=30,
                random_state=0,
                verbose=args.verbose,
            ),
            X_train,
        ),
    }
    print("\n## n_components=2: accuracy on the codes\n")
    print("| method | LogisticRegression | 5-NN | SE / image | fit s |")
    print("|---|---:|---:|---:|---:|")
    for name, (model, seconds) in models.items():
        codes_train, codes_test = model.transform(X_train), model.transform(X_test)
        scores = [
            make_pipeline(StandardScaler(), classifier)
            .fit(codes_train, y_train)
            .score(codes_test, y_test)
            for classifier in (LogisticRegression(max_iter=2000), KNeighborsClassifier(5))
        ]
        error = squared_error_per_image(model, X_test, X_test)
        print(f"| {name} | {scores[0]:.4f} | {scores[1]:.4f} | {error:.2f} | {seconds:.0f} |")


def denoising(args, conv, X_train, X_test, y_train, y_test) -> None:
    pca = PCA(32, random_state=0).fit(X_train)
    rng = np.random.RandomState(1)
    corrupted = {
        "gaussian": np.clip(X_test + rng.normal(scale=0.3, size=X_test.shape), 0, 1),
        "masking": X_test * (rng.uniform(size=X_test.shape) >= 0.3),
    }
    levels = {"gaussian": 0.3, "masking": 0.3}
    print("\n## Denoising, n_components=32: MSE of the output from the clean test image\n")
    print("| noise | denoising conv AE | plain conv AE | PCA | ratio to plain | ratio to PCA |")
    print("|---|---:|---:|---:|---:|---:|")
    for noise, X_noisy in corrupted.items():
        denoiser, _ = fit(
            conv_autoencoder(32, args, noise=noise, noise_level=levels[noise]), X_train
        )
        mse = {m: squared_error_per_image(m, X_noisy, X_test) / 784 for m in (denoiser, conv, pca)}
        print(
            f"| {noise} | {mse[denoiser]:.4f} | {mse[conv]:.4f} | {mse[pca]:.4f} "
            f"| {mse[denoiser] / mse[conv]:.3f} | {mse[denoiser] / mse[pca]:.3f} |"
        )


if __name__ == "__main__":
    main()
