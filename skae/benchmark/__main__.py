"""Side-by-side benchmark of PCA and friends against skae's autoencoders.

digits (default) and mnist: held-out reconstruction error, classification
accuracy on the codes (logistic regression and 5-NN), held-out log-likelihood,
fit time and transform speed, for each method and n_components, plus figures.
odds: unsupervised anomaly detection (ROC-AUC, average precision) on the ODDS
data sets. A markdown table goes to stdout; CSV, JSON and PNG files to
--output-dir.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shlex
import sys
import time
from pathlib import Path
from typing import NoReturn

import numpy as np

from skae.benchmark._data import QUICK_ODDS_SAMPLES, QUICK_TEST, QUICK_TRAIN

QUICK_MAX_ITER = 3


def build_parser() -> argparse.ArgumentParser:
    from skae.benchmark._methods import all_method_keys

    parser = argparse.ArgumentParser(
        prog="skae-benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        choices=["digits", "mnist", "odds"],
        default="digits",
        help="digits: scikit-learn's load_digits (default, no files needed); mnist: the MNIST "
        "t10k IDX files (first 8000 train, last 2000 test); odds: the ODDS .mat files",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the MNIST IDX files or the ODDS .mat files (or their parent with "
        "mnist/ and odds/ subfolders); MNIST defaults to $SKAE_DATA/mnist or ~/.cache/skae/mnist",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="mnist: download the original IDX files into --data-dir when missing (needs network)",
    )
    parser.add_argument(
        "--n-components",
        type=int,
        nargs="+",
        default=[2, 8, 32],
        metavar="K",
        help="code sizes to compare (default: 2 8 32); for odds each is capped at n_features // 2",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=all_method_keys(),
        metavar="KEY",
        help=f"only these methods, among: {', '.join(all_method_keys())} (default: all that apply)",
    )
    parser.add_argument(
        "--odds-datasets",
        nargs="+",
        metavar="NAME",
        help="odds: only these data sets (file names without .mat; default: all in --data-dir)",
    )
    parser.add_argument(
        "--n-splits",
        type=int,
        help="odds: number of random 60/40 stratified splits (seeds) per data set (default: 3)",
    )
    parser.add_argument(
        "--max-iter",
        type=int,
        help="epochs for the neural networks (skae max_iter, PyOD epoch_num; default: "
        "each estimator's own default)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("benchmark_results"),
        help="where the CSV, JSON and PNG files go (default: benchmark_results/)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run, not a benchmark: {QUICK_TRAIN} train and {QUICK_TEST} test rows "
        f"(odds: {QUICK_ODDS_SAMPLES} rows per set, 1 split), {QUICK_MAX_ITER} epochs",
    )
    parser.add_argument("--random-state", type=int, default=0, help="seed of everything (0)")
    parser.add_argument(
        "--device", default="auto", help="torch device for the networks: auto, cpu, cuda, ..."
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch and BLAS (default 1: the small networks here gain little "
        "from more and slow down badly when other processes share the cores; 0 keeps the "
        "libraries' defaults)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the figures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _fail(message: str) -> NoReturn:
    """A command-line error: the message, and exit status 1, without a traceback."""
    raise SystemExit(f"skae-benchmark: error: {message}")


@contextlib.contextmanager
def _data_errors():
    """Missing or unusable data is the user's to fix: a command-line error."""
    try:
        yield
    except (ValueError, OSError) as error:
        _fail(str(error))


def _check_device(device: str) -> None:
    from skae._validation import resolve_device

    try:
        resolve_device(device)
    except ValueError as error:
        _fail(f"--device: {error}")


def _check_random_state(args) -> None:
    # NumPy's and scikit-learn's seeds are below 2**32; odds seeds split i with random_state + i.
    n_seeds = args.n_splits if args.dataset == "odds" else 1
    if n_seeds > 2**32:
        _fail("--n-splits must be at most 2**32: each split has its own seed")
    highest = 2**32 - n_seeds
    if not 0 <= args.random_state <= highest:
        why = f": the seeds of the {n_seeds} splits, random_state + split, are below 2**32"
        _fail(f"--random-state must be between 0 and {highest}" + (why if n_seeds > 1 else ""))


def _prepare_output_dir(folder: Path) -> list[Path]:
    """Made once the data is loaded and the methods checked, so that a rejected command
    makes no folder, and before the run, so that a bad folder does not cost its results.

    Returns the folders it made, innermost first, for `_check_results`.
    """
    made = list(itertools.takewhile(lambda path: not path.exists(), [folder, *folder.parents]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _fail(f"--output-dir {folder}: {error.strerror or error}")
    if not os.access(folder, os.W_OK):
        _fail(f"--output-dir {folder} is not writable")
    return made


def _check_results(rows: list[dict], log, made: list[Path]) -> None:
    """A run without a single result failed: an error that says why, and no folder left."""
    if rows:
        return
    for folder in made:  # innermost first; rmdir keeps any folder that is not empty
        with contextlib.suppress(OSError):
            folder.rmdir()
    _fail("no method produced a result:\n  " + "\n  ".join(log.errors + log.skipped))


def _check_methods(args) -> None:
    from skae.benchmark._methods import DETECTOR_KEYS, REDUCER_KEYS

    kind = DETECTOR_KEYS if args.dataset == "odds" else REDUCER_KEYS
    unknown = sorted(set(args.methods) - set(kind))
    if unknown:
        _fail(f"--methods {unknown} do not apply to --dataset {args.dataset}; use {kind}")


def _check_args(args) -> None:
    """Reject what argparse lets through, with a command-line error, and fill in the
    defaults that depend on other arguments (--quick, --dataset)."""
    if min(args.n_components) < 1:
        _fail("--n-components must be positive integers")
    if args.n_splits is not None and args.n_splits < 1:
        _fail("--n-splits must be a positive integer")
    if args.n_splits is None:
        args.n_splits = 1 if args.quick else 3
    _check_random_state(args)
    # Without '..', the folders a run makes (and removes after a failure) are those named.
    args.output_dir = Path(os.path.normpath(args.output_dir))
    if args.max_iter is not None and args.max_iter < 1:
        _fail("--max-iter must be a positive integer")
    if args.threads < 0:
        _fail("--threads must be 0 (the libraries' defaults) or a positive integer")
    _check_device(args.device)
    if args.methods:
        _check_methods(args)
    if args.quick and args.max_iter is None:
        args.max_iter = QUICK_MAX_ITER
    args.n_components = sorted(set(args.n_components))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    command = shlex.join(
        ["python", "-m", "skae.benchmark", *(sys.argv[1:] if argv is None else argv)]
    )

    import torch
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    torch_threads = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        with threadpool_limits(args.threads if args.threads > 0 else None):
            if args.dataset == "odds":
                n_errors = _detection(args, command, start)
            else:
                n_errors = _reduction(args, command, start)
    finally:
        torch.set_num_threads(torch_threads)
    return 1 if n_errors else 0


def _header(args, protocol: str) -> str:
    quick = " **--quick: a smoke run on a tiny subset, not a benchmark.**" if args.quick else ""
    return f"## skae benchmark: {args.dataset}\n\n{protocol}.{quick}\n"


def _payload(args, command: str, protocol: str, methods, about_data: dict, results: dict) -> dict:
    """The JSON report, less what `_finish` adds: the run, `about_data` (the data's
    sizes), the environment and the methods, then `results`."""
    from skae.benchmark._report import environment_info

    return {
        "benchmark": "skae.benchmark",
        "dataset": args.dataset,
        "command": command,
        "arguments": vars(args),
        "protocol": protocol,
        **about_data,
        "environment": environment_info(),
        "methods": [{"key": m.key, "name": m.name, "notes": m.notes} for m in methods],
        **results,
    }


def _finish(log, files: list[Path], start: float, payload: dict, json_path: Path) -> int:
    from skae.benchmark._report import write_json

    wall = time.perf_counter() - start
    payload["wall_seconds"] = wall
    payload.update(skipped=log.skipped, errors=log.errors, warnings=log.warnings)
    write_json(payload, json_path)
    print()
    for note in log.skipped:
        print(f"- skipped: {note}")
    for error in log.errors:
        print(f"- ERROR: {error}")
    if log.warnings:
        print(f"- {len(log.warnings)} distinct warning(s), listed in {json_path}")
    print(f"- wall time: {wall:.1f} s")
    print("- files: " + ", ".join(str(p) for p in [*files, json_path]))
    return len(log.errors)


def _check_n_components(n_components: list[int], methods, data) -> None:
    """Each value must suit one of the methods at least; those it does not suit skip it."""
    from skae.benchmark._run import component_limit

    limits = [component_limit(m, data) for m in methods if m.uses_components]
    if not limits:  # only the raw features: n_components does not matter
        return
    too_many = [k for k in n_components if k > max(limits)]
    if too_many:
        _fail(
            f"--n-components {' '.join(map(str, too_many))}: the selected methods give at most "
            f"{max(limits)} components on {data.name} ({len(data.X_train)} training rows of "
            f"{data.n_features} features)"
        )


def _reduction(args, command: str, start: float) -> int:
    from skae.benchmark._data import load_reduction_data
    from skae.benchmark._methods import reduction_methods
    from skae.benchmark._report import REDUCTION_COLUMNS, markdown_table
    from skae.benchmark._run import run_reduction

    with _data_errors():
        data = load_reduction_data(
            args.dataset,
            args.data_dir,
            download=args.download,
            quick=args.quick,
            random_state=args.random_state,
        )
    settings = _reduction_settings(args, data)
    methods = reduction_methods(settings, args.methods)
    _check_n_components(args.n_components, methods, data)
    made = _prepare_output_dir(args.output_dir)
    result = run_reduction(
        data, methods, args.n_components, settings, progress=not args.no_progress
    )
    _check_results(result.rows, result.log, made)
    rows = _sorted_reduction_rows(result.rows, methods)
    print(_header(args, data.protocol))
    print(markdown_table(rows, REDUCTION_COLUMNS))
    print()
    _print_reduction_notes(methods)

    prefix = args.output_dir / args.dataset
    files = _write_reduction_files(args, result, data, rows, prefix)
    about_data = {
        "n_train": len(data.X_train),
        "n_test": len(data.X_test),
        "n_features": data.n_features,
    }
    columns = {key: title for key, title, _ in REDUCTION_COLUMNS}
    results = {"columns": columns, "results": rows}
    payload = _payload(args, command, data.protocol, methods, about_data, results)
    return _finish(result.log, files, start, payload, Path(f"{prefix}_results.json"))


def _reduction_settings(args, data):
    from skae.benchmark._methods import Settings

    return Settings(
        random_state=args.random_state,
        device=args.device,
        max_iter=args.max_iter,
        image_shape=data.image_shape,
        kernel_gamma=1.0 / (data.n_features * float(np.var(data.X_train))),
    )


def _sorted_reduction_rows(rows: list[dict], methods) -> list[dict]:
    """The raw features first, then by n_components, and methods in their given order."""
    order = {m.key: i for i, m in enumerate(methods)}
    return sorted(rows, key=lambda r: (r["key"] != "raw", r["n_components"], order[r["key"]]))


def _print_reduction_notes(methods) -> None:
    for method in methods:
        if method.notes:
            print(f"- {method.name}: {method.notes}.")
    print(
        "- Held-out = the test rows; errors in the data's units; accuracies from "
        "Pipeline([reducer, StandardScaler(), LogisticRegression()]) and 5-NN on the codes; "
        "transform rows/s on the test rows.",
        flush=True,  # before the slow figures
    )


def _write_reduction_files(args, result, data, rows: list[dict], prefix: Path) -> list[Path]:
    """The CSV file and, unless --no-plots, the figures."""
    from skae.benchmark import _plots
    from skae.benchmark._report import REDUCTION_CSV_FIELDS, write_csv

    csv_path = Path(f"{prefix}_results.csv")
    write_csv(rows, csv_path, REDUCTION_CSV_FIELDS)
    files = [csv_path]
    if not args.no_plots:
        files += _reduction_figures(_plots, result, data, args, prefix, rows)
    return files


def _reduction_figures(plots, result, data, args, prefix, rows) -> list[Path]:
    models, methods, ks = result.models, result.methods, args.n_components
    middle = ks[len(ks) // 2]
    figures = [
        plots.plot_latent_2d(models, methods, data, Path(f"{prefix}_latent_2d.png")),
        plots.plot_prior_samples(models, ks, data, Path(f"{prefix}_prior_samples.png")),
        plots.plot_error_vs_components(rows, data.name, Path(f"{prefix}_error_vs_components.png")),
    ]
    for k in ks:
        figures.append(
            plots.plot_reconstructions(
                models, methods, data, k, Path(f"{prefix}_reconstructions_k{k}.png")
            )
        )
    figures.append(
        plots.plot_interpolations(
            models, methods, data, middle, Path(f"{prefix}_interpolation_k{middle}.png")
        )
    )
    return [f for f in figures if f is not None]


def _detection(args, command: str, start: float) -> int:
    from skae.benchmark._data import load_detection_data
    from skae.benchmark._methods import Settings, detection_methods
    from skae.benchmark._report import detection_tables
    from skae.benchmark._run import run_detection, summarize_detection

    methods, skipped = detection_methods(args.methods)
    if not methods:
        _fail("none of the selected methods can run: " + "; ".join(skipped))
    with _data_errors():
        datasets, skipped_sets = load_detection_data(
            args.data_dir, args.odds_datasets, quick=args.quick, random_state=args.random_state
        )
    made = _prepare_output_dir(args.output_dir)
    settings = Settings(random_state=args.random_state, device=args.device, max_iter=args.max_iter)
    rows, log = run_detection(
        datasets,
        methods,
        args.n_components,
        settings,
        n_splits=args.n_splits,
        progress=not args.no_progress,
    )
    log.skipped[:0] = skipped_sets + skipped
    _check_results(rows, log, made)
    per_set, mean = summarize_detection(rows, args.n_splits, len(datasets))
    protocol = _detection_protocol(args, len(datasets))
    print(_header(args, protocol))
    print(detection_tables(per_set, mean), flush=True)

    prefix = args.output_dir / "odds"
    files = _write_detection_files(args, per_set, mean, rows, prefix)
    about_data = {"datasets": _dataset_sizes(datasets)}
    results = {"results": per_set, "mean": mean, "splits": rows}
    payload = _payload(args, command, protocol, methods, about_data, results)
    return _finish(log, files, start, payload, Path(f"{prefix}_results.json"))


def _detection_protocol(args, n_datasets: int) -> str:
    protocol = (
        f"ODDS, {n_datasets} data set(s); per set {args.n_splits} stratified 60/40 "
        "train/test split(s), StandardScaler fitted on the train split, detectors fitted "
        "without labels; anomaly scores on the test split"
    )
    if args.quick:
        protocol += f"; --quick: at most {QUICK_ODDS_SAMPLES} rows per set"
    return protocol


def _dataset_sizes(datasets) -> dict:
    return {
        name: {"n_samples": len(X), "n_features": X.shape[1], "n_outliers": int(y.sum())}
        for name, X, y in datasets
    }


def _write_detection_files(args, per_set, mean, rows, prefix: Path) -> list[Path]:
    """The per-set and per-split CSV files and, unless --no-plots, the figure."""
    from skae.benchmark import _plots
    from skae.benchmark._report import DETECTION_CSV_FIELDS, DETECTION_SPLIT_FIELDS, write_csv

    files = [Path(f"{prefix}_results.csv"), Path(f"{prefix}_splits.csv")]
    write_csv(per_set + mean, files[0], DETECTION_CSV_FIELDS)
    write_csv(rows, files[1], DETECTION_SPLIT_FIELDS)
    if not args.no_plots:
        figure = _plots.plot_detection_summary(mean, Path(f"{prefix}_mean_roc_auc.png"))
        files += [figure] if figure else []
    return files


if __name__ == "__main__":
    sys.exit(main())
