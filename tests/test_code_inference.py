"""The MAP code of rows with missing entries (skae._code_inference)."""

import numpy as np
import torch

from skae._batches import Batches
from skae._code_inference import CodeModel, map_codes

CPU = torch.device("cpu")


def _gaussian_noise(decoder: torch.nn.Module, k: int = 2) -> CodeModel:
    """x = decoder(z) + unit noise, z ~ N(0, I) in k dimensions."""

    def negative_log_likelihood(z, x):
        residual = decoder(z) - torch.where(torch.isnan(x), 0.0, x)
        return 0.5 * residual.square().masked_fill(torch.isnan(x), 0.0).sum(1)

    return CodeModel(torch.zeros(k), torch.eye(k), negative_log_likelihood)


def _ridge(A, b):
    return np.linalg.solve(A.T @ A + np.eye(A.shape[1]), A.T @ b)


# For a linear decoder with Gaussian noise and prior the MAP code has a closed
# form, row by row: ridge regression on the observed entries alone. The
# decoder's parameters are left without gradients.
def test_linear_gaussian_codes_match_the_closed_form():
    rng = np.random.RandomState(0)
    decoder = torch.nn.Linear(2, 6, bias=False)
    weights = decoder.weight.detach().numpy().astype(np.float64)
    X = rng.normal(size=(40, 2)) @ weights.T + 0.1 * rng.normal(size=(40, 6))
    X[rng.rand(*X.shape) < 0.3] = np.nan
    X[:, 0] = np.where(np.isnan(X).all(axis=1), 1.0, X[:, 0])
    codes = map_codes(
        _gaussian_noise(decoder),
        lambda x: torch.zeros(len(x), 2),  # a start that is not the answer
        Batches(X.astype(np.float32), CPU),
        batch_size=16,
    ).numpy()
    expected = np.array([_ridge(weights[~np.isnan(row)], row[~np.isnan(row)]) for row in X])
    np.testing.assert_allclose(codes, expected, atol=1e-3)
    zero_filled = np.array([_ridge(weights, np.nan_to_num(row)) for row in X])
    assert np.abs(zero_filled - expected).max() > 0.1
    assert decoder.weight.grad is None


# A row's code does not depend on the other rows of its batch, nor on the
# batch size.
def test_a_rows_code_does_not_depend_on_its_batch():
    rng = np.random.RandomState(0)
    decoder = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8))
    X = np.where(rng.rand(100, 8) < 0.3, np.nan, rng.normal(size=(100, 8))).astype(np.float32)

    def codes(rows, batch_size):
        start = lambda x: torch.zeros(len(x), 2)  # noqa: E731
        return map_codes(_gaussian_noise(decoder), start, Batches(rows, CPU), batch_size).numpy()

    together = codes(X, 64)
    np.testing.assert_array_equal(codes(X[:7], 64), together[:7])
    np.testing.assert_array_equal(codes(X[50:], 16), together[50:])


# A row keeps the code it started from where the descent finds nothing
# better: here the likelihood is not finite away from the start for the
# second row, whose neighbours still get their own codes.
def test_a_row_keeps_its_start_where_the_descent_fails():
    X = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, -1.0]], dtype=np.float32)

    def negative_log_likelihood(z, x):
        fit = 0.5 * (z - x).square().sum(1)
        moved = z.abs().sum(1) > 0
        broken = torch.zeros(len(x), dtype=torch.bool)
        broken[1] = True
        return torch.where(broken & moved, torch.full_like(fit, torch.nan), fit)

    model = CodeModel(torch.zeros(2), torch.eye(2), negative_log_likelihood)
    codes = map_codes(model, lambda x: torch.zeros(len(x), 2), Batches(X, CPU), 3).numpy()
    np.testing.assert_array_equal(codes[1], [0.0, 0.0])
    np.testing.assert_allclose(codes[[0, 2]], X[[0, 2]] / 2, atol=1e-3)  # the prior halves them
