"""Reports: markdown tables for stdout, CSV and JSON files, and the run's environment."""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np


def _number(digits: int) -> Callable:
    return lambda value: f"{value:.{digits}f}"


def _significant(value) -> str:
    return f"{value:.4g}"


def _rate(value) -> str:
    return f"{value:,.0f}"


def _integer(value) -> str:
    return f"{int(value)}"


# (key in the rows, column header, formatter). The CSV files use the keys.
REDUCTION_COLUMNS = [
    ("method", "method", str),
    ("n_components", "n_components", _integer),
    ("mse_per_feature", "test MSE / feature", _significant),
    ("se_per_sample", "test SE / sample", _significant),
    ("logistic_accuracy", "logistic acc.", _number(3)),
    ("knn_accuracy", "5-NN acc.", _number(3)),
    ("log_likelihood", "test log-lik. (nats)", _significant),
    ("prior_mmd", "prior MMD²", _number(4)),
    ("fit_seconds", "fit s", _number(2)),
    ("transform_rows_per_second", "transform rows/s", _rate),
]
REDUCTION_CSV_FIELDS = [
    "dataset",
    "method",
    "key",
    "n_components",
    "n_train",
    "n_test",
    "mse_per_feature",
    "se_per_sample",
    "logistic_accuracy",
    "knn_accuracy",
    "log_likelihood",
    "prior_mmd",
    "prior_ks",
    "fit_seconds",
    "transform_rows_per_second",
    "n_iter",
]
DETECTION_CSV_FIELDS = [
    "dataset",
    "method",
    "key",
    "n_components",
    "n_components_used",
    "roc_auc",
    "roc_auc_std",
    "average_precision",
    "average_precision_std",
    "fit_seconds",
    "n_splits",
]
DETECTION_SPLIT_FIELDS = [
    "dataset",
    "method",
    "key",
    "n_components",
    "n_components_used",
    "split",
    "n_train",
    "n_test",
    "n_outliers_test",
    "roc_auc",
    "average_precision",
    "fit_seconds",
]
MISSING = "—"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def markdown_table(rows: list[dict], columns=REDUCTION_COLUMNS) -> str:
    """A GitHub markdown table; missing values (None, NaN) show as a dash."""
    header = "| " + " | ".join(title for _, title, _ in columns) + " |"
    align = "|" + "|".join("---" if fmt is str else "---:" for _, _, fmt in columns) + "|"
    lines = [header, align]
    for row in rows:
        cells = [MISSING if _missing(row.get(key)) else fmt(row[key]) for key, _, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detection_tables(per_set: list[dict], mean: list[dict]) -> str:
    """For ROC-AUC and average precision and each n_components: data sets x methods."""
    blocks = []
    components = sorted({r["n_components"] for r in per_set if r["n_components"] is not None})
    methods = list(dict.fromkeys(r["method"] for r in per_set))
    datasets = list(dict.fromkeys(r["dataset"] for r in per_set))
    for metric, title in [("roc_auc", "ROC-AUC"), ("average_precision", "average precision")]:
        for k in components or [None]:

            def matches(row, method, k=k):
                return row["method"] == method and row["n_components"] in (k, None)

            # None: only methods without components (e.g. IsolationForest) ran.
            about_k = "" if k is None else f", n_components={k} (capped at n_features // 2)"
            lines = [
                f"{title}{about_k}, mean over splits:",
                "",
                "| dataset | " + " | ".join(methods) + " |",
                "|---|" + "---:|" * len(methods),
            ]
            for name, rows in [
                *((d, [r for r in per_set if r["dataset"] == d]) for d in datasets),
                ("**mean**", mean),
            ]:
                cells = []
                for method in methods:
                    found = [r[metric] for r in rows if matches(r, method)]
                    value = found[0] if found else None
                    cells.append(MISSING if _missing(value) else f"{value:.3f}")
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def write_csv(rows: list[dict], path: Path, fields: list[str]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if _missing(row.get(k)) else row.get(k) for k in fields})


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


def write_json(payload: dict, path: Path) -> None:
    with open(path, "w") as file:
        json.dump(_jsonable(payload), file, indent=2)
        file.write("\n")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment_info() -> dict:
    """Machine, library versions and date, for the JSON report and BENCHMARKS.md."""
    import torch

    packages = ["skae", "torch", "scikit-learn", "numpy", "scipy", "matplotlib", "pyod"]
    info = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "n_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": {name: _version(name) for name in packages},
    }
    return info
