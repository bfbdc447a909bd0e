"""The side-by-side benchmark CLI, in --quick mode on tiny subsets (digits, and ODDS
files written here)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import savemat

from skae.benchmark import _methods, _run
from skae.benchmark.__main__ import main
from skae.benchmark._metrics import detection_scores
from skae.benchmark._report import REDUCTION_COLUMNS, REDUCTION_CSV_FIELDS, markdown_table
from skae.benchmark._run import summarize_detection

TABLE_COLUMNS = [
    "method",
    "n_components",
    "test MSE / feature",
    "test SE / sample",
    "logistic acc.",
    "5-NN acc.",
    "test log-lik. (nats)",
    "prior MMD²",
    "fit s",
    "transform rows/s",
]
METHODS = [
    "PCA",
    "TruncatedSVD",
    "KernelPCA (rbf)",
    "FactorAnalysis",
    "AutoencoderTransformer (mlp)",
    "AutoencoderTransformer (conv)",
    "VAETransformer (mlp)",
    "AdversarialAutoencoderTransformer (mlp)",
]
FIGURES = [
    "digits_latent_2d.png",
    "digits_prior_samples.png",
    "digits_error_vs_components.png",
    "digits_reconstructions_k2.png",
    "digits_reconstructions_k4.png",
    "digits_interpolation_k4.png",
]


def table_rows(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """`python -m skae.benchmark --quick` as a user runs it, in a subprocess."""
    output_dir = tmp_path_factory.mktemp("benchmark")
    command = [sys.executable, "-m", "skae.benchmark", "--quick", "--n-components", "2", "4"]
    command += ["--output-dir", str(output_dir), "--no-progress", "--device", "cpu"]
    process = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout, output_dir


def test_cli_table(digits_run):
    stdout, _ = digits_run
    header, align, *rows = table_rows(stdout)
    assert header == TABLE_COLUMNS == [title for _, title, _ in REDUCTION_COLUMNS]
    assert all(set(cell) <= {"-", ":"} for cell in align)
    # The raw-feature reference, then every method at each n_components.
    assert [(r[0], r[1]) for r in rows] == [("raw features (no reduction)", "64")] + [
        (method, k) for k in ("2", "4") for method in METHODS
    ]
    by_method = {(r[0], r[1]): dict(zip(TABLE_COLUMNS, r)) for r in rows}
    for (method, _), row in by_method.items():
        assert 0 <= float(row["logistic acc."]) <= 1 and 0 <= float(row["5-NN acc."]) <= 1
        has_likelihood = method in ("PCA", "FactorAnalysis", "VAETransformer (mlp)")
        assert (row["test log-lik. (nats)"] != "—") == has_likelihood
        has_prior = method in ("VAETransformer (mlp)", "AdversarialAutoencoderTransformer (mlp)")
        assert (row["prior MMD²"] != "—") == has_prior
    assert by_method["FactorAnalysis", "2"]["test MSE / feature"] == "—"  # no inverse
    assert "--quick" in stdout and "wall time" in stdout


def test_cli_files(digits_run):
    _, output_dir = digits_run
    with open(output_dir / "digits_results.csv") as file:
        records = list(csv.DictReader(file))
    assert list(records[0]) == REDUCTION_CSV_FIELDS
    assert len(records) == 1 + 2 * len(METHODS)
    pca = next(r for r in records if r["method"] == "PCA" and r["n_components"] == "4")
    assert float(pca["mse_per_feature"]) > 0 and float(pca["fit_seconds"]) >= 0

    report = json.loads((output_dir / "digits_results.json").read_text())
    assert report["dataset"] == "digits" and report["arguments"]["quick"] is True
    assert report["errors"] == [] and len(report["results"]) == len(records)
    assert report["n_train"] == 300 and report["n_test"] == 150
    assert {"cpu", "n_cpus", "versions", "date_utc"} <= set(report["environment"])
    assert "python -m skae.benchmark --quick" in report["command"]

    for name in FIGURES:
        data = (output_dir / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, name


@pytest.fixture
def odds_dir(tmp_path):
    """Two small outlier-detection sets: inliers near a plane, outliers off it."""
    rng = np.random.RandomState(0)
    for name, n_features in (("plane", 6), ("wide", 10)):
        X = rng.normal(size=(120, 2)) @ rng.normal(size=(2, n_features))
        X += 0.1 * rng.normal(size=X.shape)
        y = np.zeros(120, dtype=np.uint8)
        X[:12] = 3 * rng.normal(size=(12, n_features))
        y[:12] = 1
        savemat(tmp_path / f"{name}.mat", {"X": X, "y": y[:, None]})
    return tmp_path


# The ODDS path, in-process: per-set tables, the mean, and the files.
def test_cli_odds(odds_dir, tmp_path, capsys):
    output_dir = tmp_path / "out"
    argv = ["--dataset", "odds", "--data-dir", str(odds_dir), "--quick", "--n-components", "2"]
    argv += ["--methods", "iforest", "pca-recon", "pca-ll", "ae", "vae", "ae-brief"]
    argv += ["--output-dir", str(output_dir), "--no-progress", "--device", "cpu"]
    # Files the run cannot use are skipped with a note, not the end of the run.
    (odds_dir / "broken.mat").write_bytes(b"not a mat file")
    y = np.zeros((50, 1))
    y[0] = 1
    savemat(odds_dir / "single.mat", {"X": np.random.RandomState(0).normal(size=(50, 4)), "y": y})
    assert main([*argv, "--n-splits", "2"]) == 0
    stdout = capsys.readouterr().out
    header = "| dataset | IsolationForest | PCA reconstruction error | PCA log-likelihood | "
    header += "AutoencoderTransformer | VAETransformer | AutoencoderTransformer (brief fit) |"
    assert header in stdout
    assert "| plane |" in stdout and "| wide |" in stdout and "| **mean** |" in stdout
    report = json.loads((output_dir / "odds_results.json").read_text())
    assert report["errors"] == [] and len(report["splits"]) == 2 * 2 * 6
    skipped = " ".join(report["skipped"])
    assert "broken: " in skipped and "single: 1 outlier(s) in 50 samples" in skipped
    pca = [r for r in report["results"] if r["key"] == "pca-recon"]
    # Outliers far off the inliers' plane: every detector finds them.
    assert all(r["roc_auc"] > 0.9 for r in report["results"]), report["results"]
    assert [r["n_splits"] for r in pca] == [2, 2]
    for name in ("odds_results.csv", "odds_splits.csv", "odds_mean_roc_auc.png"):
        assert (output_dir / name).stat().st_size > 0


# A failed split leaves a gap in its data set's row and in the mean, never a mean
# over fewer splits or sets; non-finite scores are a failure, not a silent NaN.
def test_detection_summary_gaps():
    rows = [
        {"dataset": d, "method": m, "key": m, "n_components": 2, "n_components_used": 2,
         "split": s, "roc_auc": 0.5 + 0.1 * s + 0.2 * (d == "b"), "average_precision": 0.5,
         "fit_seconds": 1.0}
        for d in ("a", "b") for m in ("good", "flaky") for s in (0, 1)
        if not (d == "b" and m == "flaky" and s == 1)
    ]  # fmt: skip
    per_set, mean = summarize_detection(rows, n_splits=2, n_datasets=2)
    auc = {(r["dataset"], r["key"]): r["roc_auc"] for r in per_set + mean}
    assert auc["a", "flaky"] == pytest.approx(0.55) and auc["b", "flaky"] is None
    assert auc["mean", "good"] == pytest.approx(0.65) and auc["mean", "flaky"] is None
    # Gaps that no method fills: a split or a whole data set that failed everywhere.
    per_set, mean = summarize_detection(rows, n_splits=3, n_datasets=3)
    assert all(r["roc_auc"] is None for r in per_set + mean)
    with pytest.raises(ValueError, match="1 of 3 anomaly scores are not finite"):
        detection_scores([0, 1, 0], [0.1, np.nan, 0.2])


def test_markdown_table_missing_values():
    rows = [{"method": "M", "n_components": 3, "mse_per_feature": float("nan")}]
    table = markdown_table(rows).splitlines()
    assert table[0].startswith("| method | n_components |")
    assert table[2].startswith("| M | 3 | — |")


def test_cli_rejects_bad_arguments(capsys, tmp_path, monkeypatch, odds_dir):
    monkeypatch.chdir(tmp_path)  # where the default output folder would go
    with pytest.raises(SystemExit):
        main(["--dataset", "cifar"])
    with pytest.raises(SystemExit):
        main(["--n-components", "0"])
    with pytest.raises(SystemExit, match="--n-splits must be a positive integer"):
        main(["--dataset", "odds", "--n-splits", "0"])
    with pytest.raises(SystemExit, match=r"--methods \['svd'\] do not apply to --dataset odds"):
        main(["--dataset", "odds", "--methods", "svd", "iforest"])
    with pytest.raises(SystemExit, match=r"--methods \['iforest'\] do not apply"):
        main(["--methods", "pca", "iforest"])
    # Data the run cannot load is found before the output folder is made.
    with pytest.raises(SystemExit, match="--data-dir"):
        main(["--dataset", "odds", "--no-plots", "--no-progress"])
    with pytest.raises(SystemExit, match="MNIST file"):
        main(["--dataset", "mnist", "--data-dir", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit, match=r"ODDS set\(s\) \['nowhere'\] not found"):
        main(["--dataset", "odds", "--data-dir", str(odds_dir), "--odds-datasets", "nowhere"])
    assert not (tmp_path / "benchmark_results").exists()  # rejected commands leave nothing


# Arguments that would fail only later, or lose a finished run's results, are
# checked before anything runs.
def test_cli_checks_arguments_before_the_run(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    quick = ["--quick", "--methods", "pca", "--no-plots", "--no-progress"]
    with pytest.raises(SystemExit, match="--max-iter must be a positive integer"):
        main([*quick, "--max-iter", "0"])
    with pytest.raises(SystemExit, match="--threads must be 0"):
        main([*quick, "--threads", "-1"])
    with pytest.raises(SystemExit, match="--device: device='foo' is not a valid torch device"):
        main([*quick, "--device", "foo"])
    # NumPy's seeds are below 2**32; odds seeds its splits with random_state + split.
    with pytest.raises(SystemExit, match="--random-state must be between 0 and 4294967295$"):
        main([*quick, "--random-state", "-1"])
    with pytest.raises(SystemExit, match="--n-splits must be at most 2"):
        main(["--dataset", "odds", "--n-splits", str(2**33)])
    with pytest.raises(SystemExit, match="between 0 and 4294967294: the seeds of the 2 splits"):
        main(["--dataset", "odds", "--n-splits", "2", "--random-state", str(2**32 - 1)])
    with pytest.raises(SystemExit, match=f"--output-dir {a_file}"):
        main([*quick, "--output-dir", str(a_file)])
    with pytest.raises(SystemExit, match="--output-dir"):
        main([*quick, "--output-dir", str(a_file / "below")])


# Each method runs up to the components it gives (k == n_features included) and
# skips larger k with a note; a k that no selected method gives is an error.
def test_cli_n_components_limits(tmp_path, capsys):
    argv = ["--quick", "--no-plots", "--no-progress", "--device", "cpu", "--output-dir"]
    methods = ["--methods", "pca", "svd", "kpca", "ae"]
    assert main([*argv, str(tmp_path / "out"), *methods, "--n-components", "64", "100"]) == 0
    stdout = capsys.readouterr().out
    ran = {(row[0], row[1]) for row in table_rows(stdout)[2:]}
    at_64 = ["PCA", "TruncatedSVD", "KernelPCA (rbf)", "AutoencoderTransformer (mlp)"]
    assert ran == {(method, "64") for method in at_64} | {("KernelPCA (rbf)", "100")}
    assert "skipped: PCA (n_components=100): gives at most 64 components" in stdout
    rejected = tmp_path / "rejected"
    with pytest.raises(SystemExit, match="--n-components 100: .* at most 64 components on digits"):
        main([*argv, str(rejected), "--methods", "pca", "ae", "--n-components", "8", "100"])
    assert not rejected.exists()


# Without PyOD its detectors are skipped with a note; if nothing else was
# selected, the command is an error. Tables without n_components say nothing of it.
def test_cli_without_pyod(odds_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_methods, "pyod_available", lambda: False)
    output_dir = tmp_path / "out"
    argv = ["--dataset", "odds", "--data-dir", str(odds_dir), "--quick", "--no-plots"]
    argv += ["--no-progress", "--output-dir", str(output_dir)]
    with pytest.raises(SystemExit, match="none of the selected methods can run: PyOD AutoEnc"):
        main([*argv, "--methods", "pyod-ae"])
    assert not output_dir.exists()
    assert main([*argv, "--methods", "iforest", "pyod-vae"]) == 0
    stdout = capsys.readouterr().out
    assert "skipped: PyOD VAE: pyod is not installed" in stdout and "PyOD AutoEnc" not in stdout
    assert "pip install -e '.[peers]'" in stdout
    assert "ROC-AUC, mean over splits:" in stdout and "n_components" not in stdout


# A run in which every fit failed is an error that lists the failures, and
# leaves no output folder behind.
def test_cli_no_results(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("broken fit")

    monkeypatch.setattr(_run, "timed", broken)
    output_dir = tmp_path / "new" / "out"
    argv = ["--quick", "--methods", "pca", "--n-components", "2", "--no-plots", "--no-progress"]
    with pytest.raises(SystemExit, match=r"no method produced a result:\n  PCA .*broken fit"):
        main([*argv, "--output-dir", str(output_dir)])
    assert not (tmp_path / "new").exists()
    # Only folders the run made are removed: not 'mine', reached through a new one.
    (tmp_path / "mine").mkdir()
    with pytest.raises(SystemExit, match="no method produced a result"):
        main([*argv, "--output-dir", str(tmp_path / "other" / ".." / "mine")])
    assert (tmp_path / "mine").is_dir() and not (tmp_path / "other").exists()
