"""Running the comparison: every method at every n_components, with a progress bar."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from skae._spec import compressing_size
from skae.benchmark._data import ReductionData
from skae.benchmark._methods import Method, Settings
from skae.benchmark._metrics import (
    classification_accuracies,
    detection_scores,
    held_out_log_likelihood,
    prior_distances,
    reconstruction_errors,
    timed,
    transform_speed,
)

ODDS_TEST_SIZE = 0.4


@dataclass
class Log:
    """What went wrong or was left out, for the JSON report."""

    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def record_warnings(self, label: str, caught: Iterable[warnings.WarningMessage]) -> None:
        for warning in caught:
            text = f"{label}: {warning.category.__name__}: {str(warning.message).strip()}"
            if text not in self.warnings:
                self.warnings.append(text)

    @contextlib.contextmanager
    def capture(self, label: str) -> Iterator[None]:
        """Run the block, recording its warnings under `label`; an exception in it is
        logged as an error and not raised, since one failing method must not end the run."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            except Exception as error:
                self.errors.append(f"{label}: {type(error).__name__}: {error}")
        self.record_warnings(label, caught)


@dataclass
class ReductionResult:
    rows: list[dict]
    models: dict  # (method key, n_components) -> fitted estimator
    methods: list[Method]
    log: Log


def _progress(total: int, description: str, enabled: bool):
    # tqdm writes to stderr, so the tables on stdout stay clean.
    return tqdm(total=total, desc=description, unit="fit", disable=not enabled, leave=False)


def warm_up(settings: Settings) -> None:
    """One tiny fit of each network, so that torch's one-off start-up costs (kernel
    selection, allocator, thread pool) are not billed to the first method timed."""
    from skae import AutoencoderTransformer, VAETransformer

    X = np.random.RandomState(0).normal(size=(64, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # two epochs, on purpose
        for estimator in (AutoencoderTransformer, VAETransformer):
            estimator(2, max_iter=2, device=settings.device, random_state=0).fit(X).score(X)


def _n_components_or_none(method: Method, n_components: list[int]) -> list[int | None]:
    return list(n_components) if method.uses_components else [None]


def component_limit(method: Method, data: ReductionData) -> int:
    """The most components `method` gives when fitted on `data`'s training rows
    (on a subsample of them when it has `max_train_samples`)."""
    n_fit = min(len(data.X_train), method.max_train_samples or len(data.X_train))
    return method.max_components(n_fit, data.n_features)


def run_reduction(
    data: ReductionData,
    methods: list[Method],
    n_components: list[int],
    settings: Settings,
    *,
    progress: bool = True,
) -> ReductionResult:
    """Fit each method at each n_components on the training rows; measure on the test rows."""
    log = Log()
    rows, models = [], {}
    tasks = [(m, k) for m in methods for k in _n_components_or_none(m, n_components)]
    rng = np.random.RandomState(settings.random_state)  # draws the training subsamples
    warm_up(settings)
    with _progress(len(tasks), data.name, progress) as bar:
        for method, k in tasks:
            bar.set_postfix_str(f"{method.name}, k={k}" if k else method.name)
            label = f"{method.name} (n_components={k})" if k else method.name
            limit = component_limit(method, data)
            if k is not None and k > limit:
                log.skipped.append(f"{label}: gives at most {limit} components on this data")
            else:
                X_fit = _training_rows(method, data.X_train, rng)
                with log.capture(label):
                    model, measures = _fit_and_measure_reducer(method, k, settings, X_fit, data)
                    models[method.key, k] = model
                    rows.append({**_reduction_row(data, method, k, X_fit), **measures})
            bar.update()
    return ReductionResult(rows, models, methods, log)


def _training_rows(method: Method, X_train: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """All the training rows, or a random `max_train_samples` of them (in their order)."""
    if method.max_train_samples and len(X_train) > method.max_train_samples:
        kept = np.sort(rng.choice(len(X_train), method.max_train_samples, False))
        return X_train[kept]
    return X_train


def _reduction_row(data: ReductionData, method: Method, k: int | None, X_fit: np.ndarray) -> dict:
    """What a result row says about the run: data set, method and sizes."""
    return {
        "dataset": data.name,
        "method": method.name,
        "key": method.key,
        "n_components": k if k is not None else data.n_features,
        "n_train": len(X_fit),
        "n_test": len(data.X_test),
    }


def _fit_and_measure_reducer(
    method: Method, k: int | None, settings: Settings, X_fit: np.ndarray, data: ReductionData
) -> tuple[object, dict]:
    """The reducer fitted on `X_fit`, and its fit time and measures on the test rows."""
    model, fit_seconds = timed(method.make(k, settings).fit, X_fit)
    measures = {"fit_seconds": fit_seconds}
    measures.update(reconstruction_errors(model, data.X_test))
    measures.update(
        classification_accuracies(model, data.X_train, data.y_train, data.X_test, data.y_test)
    )
    measures["log_likelihood"] = (
        held_out_log_likelihood(model, data.X_test) if method.has_likelihood else np.nan
    )
    prior = prior_distances(model, data.X_test, settings.random_state) if method.has_prior else {}
    measures.update({"prior_mmd": np.nan, "prior_ks": np.nan, **prior})
    measures["transform_rows_per_second"] = transform_speed(model, data.X_test)
    if method.key == "raw":  # the identity: nothing to time
        measures["fit_seconds"] = measures["transform_rows_per_second"] = np.nan
    measures["n_iter"] = getattr(model, "n_iter_", None)
    return model, measures


@dataclass
class _Split:
    """One seeded train/test split of a data set, standardized by its training part."""

    dataset: str
    index: int
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _scaled_split(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """X_train, X_test and y_test of a stratified split; StandardScaler fitted on X_train."""
    X_train, X_test, _, y_test = train_test_split(
        X, y, test_size=ODDS_TEST_SIZE, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test


def run_detection(
    datasets: list[tuple[str, np.ndarray, np.ndarray]],
    methods: list[Method],
    n_components: list[int],
    settings: Settings,
    *,
    n_splits: int = 3,
    progress: bool = True,
) -> tuple[list[dict], Log]:
    """Anomaly detection on each data set: fit on a 60% stratified split without the
    labels (StandardScaler fitted on it too), score the other 40%; `n_splits` seeds.

    Returns one row per data set, method, n_components and split.
    """
    log = Log()
    rows = []
    n_tasks = len(datasets) * sum(len(_n_components_or_none(m, n_components)) for m in methods)
    warm_up(settings)
    with _progress(n_tasks * n_splits, "odds", progress) as bar:
        for name, X, y in datasets:
            for index in range(n_splits):
                seed = settings.random_state + index
                split = _Split(name, index, *_scaled_split(X, y, seed))
                split_settings = replace(settings, random_state=seed)
                rows += _detect_on_split(split, methods, n_components, split_settings, log, bar)
    return rows, log


def _detect_on_split(
    split: _Split, methods: list[Method], n_components: list[int], settings: Settings, log: Log, bar
) -> list[dict]:
    """A row per method and n_components on one split. Values of n_components capped to
    the same number share one fit."""
    rows = []
    results = {}  # (method key, n_components used) -> scores, None after an error
    for method in methods:
        for k in _n_components_or_none(method, n_components):
            k_used = None if k is None else compressing_size(k, split.X_train.shape[1])
            label = f"{split.dataset}: {method.name}" + (f" (n_components={k_used})" if k else "")
            bar.set_postfix_str(label)
            if (method.key, k_used) not in results:
                results[method.key, k_used] = _detect(method, k_used, settings, split, label, log)
            if results[method.key, k_used] is not None:
                rows.append(_detection_row(split, method, k, k_used, results[method.key, k_used]))
            bar.update()
    return rows


def _detect(
    method: Method, k: int | None, settings: Settings, split: _Split, label: str, log: Log
) -> dict | None:
    """The detector's scores on the test part and its fit time; None if it failed."""
    with log.capture(label):
        model, seconds = timed(method.make(k, settings).fit, split.X_train)
        result = detection_scores(split.y_test, method.anomaly_score(model, split.X_test))
        result["fit_seconds"] = seconds
        return result
    return None  # the error is in the log


def _detection_row(
    split: _Split, method: Method, k: int | None, k_used: int | None, result: dict
) -> dict:
    return {
        "dataset": split.dataset,
        "method": method.name,
        "key": method.key,
        "n_components": k,
        "n_components_used": k_used,
        "split": split.index,
        "n_train": len(split.X_train),
        "n_test": len(split.X_test),
        "n_outliers_test": int(split.y_test.sum()),
        **result,
    }


def summarize_detection(
    rows: list[dict], n_splits: int, n_datasets: int
) -> tuple[list[dict], list[dict]]:
    """Per data set (mean and std over splits) and the mean over data sets.

    A method's value for a data set is given only when it has a result on each
    of that set's splits, and its mean over data sets only when it has a value
    for each set: a failed fit leaves a gap, never a mean over fewer.
    """
    import pandas as pd

    if not rows:
        return [], []
    frame = pd.DataFrame(rows)
    for column in ("n_components", "n_components_used"):
        frame[column] = frame[column].astype("Int64")
    keys = ["method", "key", "n_components"]
    per_set = (
        frame.groupby(["dataset", *keys], dropna=False, sort=False)
        .agg(
            n_components_used=("n_components_used", "first"),
            roc_auc=("roc_auc", "mean"),
            roc_auc_std=("roc_auc", "std"),
            average_precision=("average_precision", "mean"),
            average_precision_std=("average_precision", "std"),
            fit_seconds=("fit_seconds", "mean"),
            n_splits=("split", "count"),
        )
        .reset_index()
    )
    metrics = ["roc_auc", "roc_auc_std", "average_precision", "average_precision_std"]
    per_set.loc[per_set["n_splits"] < n_splits, metrics] = np.nan
    mean = (
        per_set.groupby(keys, dropna=False, sort=False)
        .agg(
            roc_auc=("roc_auc", "mean"),
            average_precision=("average_precision", "mean"),
            fit_seconds=("fit_seconds", "mean"),
            n_datasets=("roc_auc", "count"),
        )
        .reset_index()
    )
    incomplete = mean["n_datasets"] < n_datasets
    mean.loc[incomplete, ["roc_auc", "average_precision"]] = np.nan
    mean.insert(0, "dataset", "mean")
    return _records(per_set), _records(mean)


def _records(frame) -> list[dict]:
    """Plain records, None for missing values."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
