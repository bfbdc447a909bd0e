"""Batch invariance: when does a row's float32 output depend on the rows
computed with it, in torch's CPU kernels, and do the estimators' per-row
outputs?

Three tables, each an exact comparison (``torch.equal``) against a reference
computation of the same rows:

* **alignment**: ``F.linear`` of 64 rows of K inputs and N outputs, the rows
  shifted in memory by 1 to 7 floats: which (K, N) round differently;
* **row counts**: ``F.linear`` of the first M rows against the same rows of a
  3000-row product, for M not a multiple of 4 and for multiples of 4, on 1 to
  16 threads;
* **estimators**: the largest difference of ``transform``, ``score_samples``,
  ``score_samples_by_feature`` and ``inverse_transform`` computed in pieces
  of 1, 3, 7 and 33 rows against all rows at once.

Run from the repository root::

    .venv/bin/python benchmarks/batch_invariance.py
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch.nn import functional as F

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer


def shifted(x: torch.Tensor, offset: int) -> torch.Tensor:
    """x copied `offset` floats past an aligned allocation."""
    buffer = torch.zeros(x.numel() + 16)
    view = buffer[offset : offset + x.numel()].view(x.shape)
    view.copy_(x)
    return view


def alignment_table() -> None:
    Ks, Ns = [3, 4, 10, 64], [2, 4, 8, 9, 12, 16, 64]
    print("## Alignment: X where a row's outputs change with its offset in memory")
    print("| K \\ N | " + " | ".join(map(str, Ns)) + " |")
    print("|---" * (len(Ns) + 1) + "|")
    for K in Ks:
        cells = []
        for N in Ns:
            weight, bias, x = torch.randn(N, K), torch.randn(N), torch.randn(64, K)
            reference = F.linear(x, weight, bias)
            moved = any(
                not torch.equal(F.linear(shifted(x, offset), weight, bias), reference)
                for offset in range(1, 8)
            )
            cells.append("X" if moved else ".")
        print(f"| {K} | " + " | ".join(cells) + " |")


def row_count_table() -> None:
    print("\n## Row counts: products of M rows that round a row apart from 3000 rows")
    print("| threads | M < 64, not a multiple of 4 | M a multiple of 4 (to 700) |")
    print("|---|---|---|")
    default_threads = torch.get_num_threads()
    for threads in 1, 2, 4, 16:
        torch.set_num_threads(threads)
        odd, whole = [], []
        for K, N in [(20, 64), (784, 512), (64, 32)]:
            weight, bias, x = torch.randn(N, K), torch.randn(N), torch.randn(3000, K)
            reference = F.linear(x, weight, bias)
            for M in range(1, 700):
                if M % 4 and M >= 64:
                    continue
                if not torch.equal(F.linear(x[:M], weight, bias), reference[:M]):
                    (whole if M % 4 == 0 else odd).append(M)
        print(f"| {threads} | {sorted(set(odd)) or 'none'} | {sorted(set(whole)) or 'none'} |")
    torch.set_num_threads(default_threads)


def estimator_table() -> None:
    rng = np.random.RandomState(0)
    table = rng.normal(size=(300, 10)) * rng.uniform(0.5, 4, 10)
    unit = rng.uniform(size=(300, 64))
    conv = dict(architecture="conv", image_shape=(8, 8), hidden_layer_sizes=(4, 8))
    print("\n## Estimators: largest difference, pieces of 1, 3, 7, 33 rows against all")
    print("| estimator | data | transform | score_samples | by feature | inverse_transform |")
    print("|---|---|---|---|---|---|")
    for cls in AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer:
        for name, X, params in [("table", table, {}), ("8x8 conv", unit, conv)]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = cls(max_iter=2, random_state=0, **params).fit(X)
            codes = model.transform(X)
            cells = []
            for method, data in [
                (model.transform, X),
                (model.score_samples, X),
                (model.score_samples_by_feature, X),
                (model.inverse_transform, codes),
            ]:
                whole, worst = method(data), 0.0
                for rows in 1, 3, 7, 33:
                    parts = np.concatenate([method(data[s : s + rows]) for s in range(0, 99, rows)])
                    worst = max(worst, float(np.max(np.abs(parts - whole[: len(parts)]))))
                cells.append(f"{worst:.1e}")
            print(f"| {cls.__name__} | {name} | " + " | ".join(cells) + " |")


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    alignment_table()
    row_count_table()
    estimator_table()


if __name__ == "__main__":
    main()
