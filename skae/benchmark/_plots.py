"""The benchmark's figures, drawn with matplotlib's object API (no pyplot, no display).

Each function saves one PNG and returns its path, or None when the run has
nothing to draw (e.g. no method at n_components=2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from skae.benchmark._data import ReductionData
from skae.plotting import (
    ImageGridDisplay,
    InterpolationDisplay,
    LatentScatterDisplay,
    SampleGridDisplay,
)

DPI = 120
N_COLUMNS = 10  # images per row of the image grids
ROW_INCHES = 1.05  # height of one row of images


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def _row_label(ax, text: str) -> None:
    ax.set_ylabel(text, rotation=0, ha="right", va="center", fontsize=9)


def _pixel_range(data: ReductionData) -> dict[str, float]:
    return {"vmin": 0.0, "vmax": data.pixel_max}


def _one_per_class(y: np.ndarray, n: int = N_COLUMNS) -> np.ndarray:
    """Indices of the first test sample of each class (then further ones), n in all."""
    first = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)]
    rest = [i for i in range(len(y)) if i not in set(first)]
    return np.array((first + rest)[:n])


def plot_latent_2d(models: dict, methods, data: ReductionData, path: Path) -> Path | None:
    """The 2-D codes of the test set, coloured by label, one panel per method."""
    panels = [(m, models[m.key, 2]) for m in methods if (m.key, 2) in models]
    if not panels:
        return None
    n_columns = min(3, len(panels))
    n_rows = -(-len(panels) // n_columns)
    figure = Figure(figsize=(4.2 * n_columns, 3.8 * n_rows), layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False)
    for ax, (method, model) in zip(axes.flat, panels):
        display = LatentScatterDisplay.from_estimator(
            model, data.X_test, data.y_test, ax=ax, legend=False, s=6
        )
        ax.set_title(method.name, fontsize=10)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    # One colorbar for all panels: they colour the same labels, by their
    # index among the classes.
    classes = np.unique(data.y_test)
    colorbar = figure.colorbar(display.scatter_, ax=axes, ticks=range(len(classes)), shrink=0.8)
    colorbar.set_ticklabels([str(c) for c in classes])
    colorbar.set_label("digit")
    figure.suptitle(f"{data.name}: 2-D codes of the {len(data.X_test)} test images, by digit")
    return _save(figure, path)


def _invertible(models: dict, methods, k: int) -> list[tuple[str, object]]:
    """(name, fitted model) of the methods fitted at k that have an inverse_transform."""
    return [
        (m.name, models[m.key, k])
        for m in methods
        if (m.key, k) in models and hasattr(models[m.key, k], "inverse_transform")
    ]


def plot_reconstructions(models: dict, methods, data: ReductionData, k: int, path: Path):
    """Test images (top row) and each method's reconstruction at n_components=k."""
    rows = _invertible(models, methods, k)
    if not rows:
        return None
    index = _one_per_class(data.y_test)
    images = data.X_test[index]
    grid = [images, *(model.inverse_transform(model.transform(images)) for _, model in rows)]
    figure = Figure(
        figsize=(1.0 * len(index) + 2.5, ROW_INCHES * (len(rows) + 1)), layout="constrained"
    )
    ImageGridDisplay(
        grid,
        image_shape=data.image_shape,
        row_labels=["test image", *(name for name, _ in rows)],
        column_labels=[str(label) for label in data.y_test[index]],
    ).plot(figure.subplots(), **_pixel_range(data))
    figure.suptitle(f"{data.name}: reconstructions of test images, n_components={k}")
    return _save(figure, path)


def _image_rows(figure: Figure, n_rows: int):
    return figure.subplots(n_rows, 1, squeeze=False)[:, 0]


def plot_prior_samples(models: dict, n_components, data: ReductionData, path: Path, seed=0):
    """Images decoded from draws of the N(0, I) prior, by the VAE and the
    adversarial autoencoder: one row per model and n_components."""
    names = {"vae": "VAE", "aae": "AAE"}
    rows = [
        (f"{name}, k={k}", models[key, k])
        for key, name in names.items()
        for k in n_components
        if (key, k) in models
    ]
    if not rows:
        return None
    figure = Figure(
        figsize=(1.0 * N_COLUMNS + 1.5, ROW_INCHES * len(rows) + 0.4), layout="constrained"
    )
    for ax, (label, model) in zip(_image_rows(figure, len(rows)), rows):
        SampleGridDisplay.from_estimator(
            model,
            N_COLUMNS,
            n_columns=N_COLUMNS,
            random_state=seed,
            image_shape=data.image_shape,
            ax=ax,
            **_pixel_range(data),
        )
        _row_label(ax, label)
    figure.suptitle(f"{data.name}: sample(), decoded draws from the prior N(0, I)")
    return _save(figure, path)


def _pair(y: np.ndarray) -> tuple[int, int]:
    """Two test samples of different classes (the first of the smallest and largest labels)."""
    classes = np.unique(y)
    return int(np.flatnonzero(y == classes[0])[0]), int(np.flatnonzero(y == classes[-1])[0])


def plot_interpolations(models: dict, methods, data: ReductionData, k: int, path: Path):
    """Decoded straight paths in code space between two test images, one row per method."""
    rows = _invertible(models, methods, k)
    if not rows:
        return None
    start, end = _pair(data.y_test)
    figure = Figure(
        figsize=(1.0 * N_COLUMNS + 2.5, ROW_INCHES * len(rows) + 0.4), layout="constrained"
    )
    for ax, (name, model) in zip(_image_rows(figure, len(rows)), rows):
        InterpolationDisplay.from_estimator(
            model,
            data.X_test[start],
            data.X_test[end],
            n_steps=N_COLUMNS,
            image_shape=data.image_shape,
            ax=ax,
            **_pixel_range(data),
        )
        _row_label(ax, name)
    figure.suptitle(
        f"{data.name}: interpolation between the codes of a {data.y_test[start]} and a "
        f"{data.y_test[end]}, n_components={k}"
    )
    return _save(figure, path)


def plot_error_vs_components(rows: list[dict], dataset: str, path: Path) -> Path | None:
    """Held-out reconstruction error and logistic accuracy against n_components."""
    by_method: dict[str, list[dict]] = {}
    raw = [r for r in rows if r["key"] == "raw"]
    for row in rows:
        if row["key"] != "raw":
            by_method.setdefault(row["method"], []).append(row)
    if not by_method:
        return None
    figure = Figure(figsize=(13, 4.5), layout="constrained")
    error_ax, accuracy_ax = figure.subplots(1, 2)
    components = sorted({r["n_components"] for rows_ in by_method.values() for r in rows_})
    for i, (name, method_rows) in enumerate(by_method.items()):
        style = {"color": f"C{i % 10}", "marker": "o", "label": name}  # same colour in both
        method_rows = sorted(method_rows, key=lambda r: r["n_components"])
        k = [r["n_components"] for r in method_rows]
        mse = np.array([r["mse_per_feature"] for r in method_rows], dtype=float)
        if not np.isnan(mse).all():
            error_ax.plot(k, mse, **style)
        accuracy_ax.plot(k, [r["logistic_accuracy"] for r in method_rows], **style)
    for row in raw:
        accuracy_ax.axhline(row["logistic_accuracy"], color="gray", ls="--", label=row["method"])
    for ax in (error_ax, accuracy_ax):
        ax.set_xscale("log")
        ax.set_xticks(components, [str(k) for k in components])
        ax.minorticks_off()
        ax.set_xlabel("n_components")
        ax.grid(alpha=0.3)
    error_ax.set_yscale("log")
    error_ax.set_ylabel("test MSE per feature (data units)")
    error_ax.set_title("held-out reconstruction error (lower is better)")
    accuracy_ax.set_ylabel("test accuracy")
    accuracy_ax.set_title("logistic regression on the codes (higher is better)")
    figure.legend(*accuracy_ax.get_legend_handles_labels(), loc="outside right center", fontsize=9)
    figure.suptitle(f"{dataset}: quality against n_components")
    return _save(figure, path)


def plot_detection_summary(mean_rows: list[dict], path: Path) -> Path | None:
    """Mean ROC-AUC over the ODDS sets, one group of bars per method."""
    rows = [r for r in mean_rows if r["roc_auc"] is not None and not np.isnan(r["roc_auc"])]
    if not rows:
        return None
    methods = list(dict.fromkeys(r["method"] for r in rows))
    components = sorted({r["n_components"] for r in rows if r["n_components"] is not None})
    width = 0.8 / max(1, len(components))
    figure = Figure(figsize=(1.6 * len(methods) + 3, 4.5), layout="constrained")
    ax = figure.subplots()
    for i, k in enumerate(components):
        values = [
            next(
                (r["roc_auc"] for r in rows if r["method"] == m and r["n_components"] == k), np.nan
            )
            for m in methods
        ]
        ax.bar(np.arange(len(methods)) + i * width, values, width, label=f"n_components={k}")
    # Methods without n_components (IsolationForest): one bar across the group.
    values = [
        next((r["roc_auc"] for r in rows if r["method"] == m and r["n_components"] is None), np.nan)
        for m in methods
    ]
    ax.bar(
        np.arange(len(methods)) + width * (len(components) - 1) / 2,
        values,
        width * max(1, len(components)),
        color="gray",
        label="no n_components",
    )
    ax.set_xticks(np.arange(len(methods)) + width * (len(components) - 1) / 2, methods)
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_ylim(min(0.5, min(r["roc_auc"] for r in rows) - 0.05), 1.0)
    ax.set_ylabel("mean ROC-AUC over the data sets")
    ax.set_title("ODDS anomaly detection: mean ROC-AUC (higher is better; 0.5 is chance)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(figure, path)
