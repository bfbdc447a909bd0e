"""Generation: :meth:`sample` and :meth:`interpolate`, by decoding codes.

A mixin of the estimator base; it needs ``transform``, ``inverse_transform``,
``n_components_`` and ``_sample_codes`` (draws from the model's code
distribution).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skae._validation import as_rows


class GenerativeMixin:
    """Sampling and latent interpolation for a fitted autoencoder."""

    def sample(
        self, n_samples: int = 1, random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Generate samples by decoding random codes.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of codes.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            The decoder's mean output for each drawn code.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        codes = self._sample_codes(int(n_samples), check_random_state(random_state))
        return self.inverse_transform(codes)

    def interpolate(self, X_start: ArrayLike, X_end: ArrayLike, n_steps: int = 10) -> np.ndarray:
        """Decode the straight path between the codes of two inputs.

        Parameters
        ----------
        X_start, X_end : array-like of shape (n_features,) or (n_pairs, n_features)
            Where each path starts and ends.
        n_steps : int, default=10
            Number of points on each path, both ends included.

        Returns
        -------
        path : ndarray of shape (n_steps, n_features) or (n_pairs, n_steps, n_features)
            Decoded points; the first and last are the reconstructions of the ends.
        """
        check_is_fitted(self)
        if not isinstance(n_steps, Integral) or n_steps < 2:
            raise ValueError(f"n_steps must be an integer >= 2, got {n_steps!r}.")
        single = np.ndim(X_start) == 1 and np.ndim(X_end) == 1
        start, end = (np.asarray(self.transform(as_rows(X))) for X in (X_start, X_end))
        if start.shape != end.shape:
            raise ValueError(
                f"X_start and X_end must have the same shape, got {start.shape} and {end.shape}."
            )
        t = np.linspace(0.0, 1.0, n_steps, dtype=start.dtype)[None, :, None]  # float32 stays
        codes = (1 - t) * start[:, None, :] + t * end[:, None, :]
        path = self.inverse_transform(codes.reshape(-1, self.n_components_))
        path = path.reshape(len(start), n_steps, -1)
        return path[0] if single else path
