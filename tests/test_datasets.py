"""skae.datasets: the MNIST IDX and ODDS .mat loaders, on small files written here,
and on the shared data folder when it is present (skipped otherwise). No network."""

import gzip
import hashlib
import http.client
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy.io import savemat

from skae import datasets
from skae.datasets import (
    download_mnist,
    list_odds,
    load_mnist,
    load_mnist_split,
    load_odds,
    read_idx,
    split_mnist,
)


def write_idx(path, array: np.ndarray, type_code: int = 0x08) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    payload = header + array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as file:
            file.write(payload)
    else:
        path.write_bytes(payload)


@pytest.fixture
def mnist_dir(tmp_path):
    """12 random 28 x 28 images and labels as t10k IDX files."""
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(12, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, size=12).astype(np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    return tmp_path, images, labels


# ----------------------------------------------------------------------
# MNIST on files written here


def test_load_mnist(mnist_dir):
    folder, images, labels = mnist_dir
    X, y = load_mnist(folder)
    assert X.shape == (12, 784) and X.dtype == np.float64
    assert X.min() >= 0 and X.max() <= 1
    assert_array_equal(np.rint(X * 255).astype(np.uint8), images.reshape(12, -1))
    assert_array_equal(y, labels)
    assert y.dtype == np.int64
    X32, _ = load_mnist(folder, dtype=np.float32)
    assert X32.dtype == np.float32


# The image payload starts at byte 16 and the labels at byte 8 of the raw files.
def test_idx_offsets(mnist_dir):
    folder, images, labels = mnist_dir
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as file:
        raw = file.read()
    assert int.from_bytes(raw[:4], "big") == 2051 and raw[16:] == images.tobytes()
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as file:
        raw = file.read()
    assert int.from_bytes(raw[:4], "big") == 2049 and raw[8:] == labels.tobytes()


# A parent folder with an mnist/ subfolder works too, and plain (not gzipped) IDX reads.
def test_load_mnist_from_parent_and_plain_idx(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.arange(3, dtype=np.uint8))
    X, y = load_mnist(tmp_path)
    assert X.shape == (3, 784) and list(y) == [0, 1, 2]
    write_idx(tmp_path / "floats.idx", np.ones((2, 5), ">f4"), type_code=0x0D)
    assert_array_equal(read_idx(tmp_path / "floats.idx"), np.ones((2, 5)))


def test_load_mnist_errors(tmp_path, mnist_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    folder, _, _ = mnist_dir
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(folder)
    with pytest.raises(ValueError, match="subset"):
        load_mnist(folder, subset="validation")


def test_read_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.gz")
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="magic number"):
        read_idx(bad)
    truncated = tmp_path / "truncated.idx"
    write_idx(truncated, np.zeros((4, 3), np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:-2])
    with pytest.raises(ValueError, match="payload"):
        read_idx(truncated)
    not_gzip = tmp_path / "not-gzip.gz"
    not_gzip.write_bytes(b"plain bytes")
    with pytest.raises(ValueError, match="gzipped"):
        read_idx(not_gzip)


def test_load_mnist_count_mismatch(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        load_mnist(tmp_path)


# The protocol: the first 8000 rows train, the last 2000 test.
def test_split_mnist():
    X, y = np.arange(10_000)[:, None], np.arange(10_000)
    X_train, X_test, y_train, y_test = split_mnist(X, y)
    assert X_train.shape == (8000, 1) and X_test.shape == (2000, 1)
    assert y_train[0] == 0 and y_train[-1] == 7999 and y_test[0] == 8000 and y_test[-1] == 9999
    with pytest.raises(ValueError, match="more than"):
        split_mnist(X[:9000], y[:9000])


# download_mnist fetches through urllib (here from file:// URLs: no network), checks the
# md5 sums, keeps files that are already right, and leaves nothing behind on a mismatch.
def test_download_mnist(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = {}
    for kind in ("train", "t10k"):
        for part, size in (("images", (2, 28, 28)), ("labels", (2,))):
            name = datasets.MNIST_FILES[kind][part][0]
            write_idx(mirror / name, np.full(size, 7, np.uint8))
            files.setdefault(kind, {})[part] = (name, _md5(mirror / name))
    monkeypatch.setattr(datasets, "MNIST_FILES", files)
    target = tmp_path / "cache"
    url = mirror.as_uri() + "/"
    assert download_mnist(target, mirrors=[url]) == target
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in mirror.iterdir())
    X, y = load_mnist(target, subset="train")
    assert X.shape == (2, 784) and list(y) == [7, 7]
    # load_mnist(download=True) downloads what is missing, from the default mirrors.
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", ((tmp_path / "gone").as_uri() + "/", url))
    (target / files["t10k"]["images"][0]).unlink()
    X, y = load_mnist(target, download=True)
    assert X.shape == (2, 784) and (target / files["t10k"]["images"][0]).is_file()
    # A transfer cut short (http.client.IncompleteRead) moves on to the next mirror.
    fetch, broken = datasets._fetch, tmp_path.as_uri() + "/truncating/"

    def truncating_fetch(address, *args):
        if address.startswith(broken):
            raise http.client.IncompleteRead(b"")
        return fetch(address, *args)

    monkeypatch.setattr(datasets, "_fetch", truncating_fetch)
    (target / files["t10k"]["images"][0]).unlink()
    assert download_mnist(target, mirrors=[broken, url]) == target
    monkeypatch.setattr(datasets, "_fetch", fetch)

    # A wrong checksum: an error naming the file, and no partial download left.
    bad = {k: {p: (n, "0" * 32) for p, (n, _) in v.items()} for k, v in files.items()}
    monkeypatch.setattr(datasets, "MNIST_FILES", bad)
    other = tmp_path / "other"
    with pytest.raises(OSError, match="md5"):
        download_mnist(other, mirrors=[url])
    assert list(other.iterdir()) == []


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


# ----------------------------------------------------------------------
# ODDS on files written here


@pytest.fixture
def odds_dir(tmp_path):
    folder = tmp_path / "odds"
    folder.mkdir()
    rng = np.random.RandomState(0)
    savemat(
        folder / "beta.mat",
        {"X": rng.randint(0, 100, size=(20, 4)).astype(np.int16), "y": np.zeros((20, 1), np.uint8)},
    )
    y = np.zeros((10, 1))
    y[:2] = 1
    savemat(folder / "alpha.mat", {"X": rng.normal(size=(10, 3)), "y": y})
    return folder


def test_load_odds(odds_dir):
    paths = list_odds(odds_dir)
    assert [p.stem for p in paths] == ["alpha", "beta"]
    X, y = load_odds(paths[1])
    assert X.shape == (20, 4) and X.dtype == np.float64
    assert y.shape == (20,) and y.dtype == np.int64
    X, y = load_odds("alpha", data_dir=odds_dir)
    assert X.shape == (10, 3) and list(y) == [1, 1] + [0] * 8
    # The parent folder works too.
    assert list_odds(odds_dir.parent) == paths


def test_odds_errors(tmp_path, odds_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_odds(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no ODDS \.mat files"):
        list_odds(empty)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_odds(odds_dir / "gamma.mat")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_odds("gamma", data_dir=odds_dir)
    savemat(odds_dir / "nolabels.mat", {"X": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"lacks.*'y'"):
        load_odds(odds_dir / "nolabels.mat")
    for bad in ([[0], [2], [1]], [[0], [0.5], [1]]):  # checked before any cast to int
        savemat(odds_dir / "badlabels.mat", {"X": np.ones((3, 2)), "y": np.array(bad)})
        with pytest.raises(ValueError, match="0 \\(inlier\\) and 1"):
            load_odds(odds_dir / "badlabels.mat")
    savemat(odds_dir / "inf.mat", {"X": np.array([[0.0], [np.inf], [1.0]]), "y": [[0], [0], [1]]})
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        load_odds(odds_dir / "inf.mat")
    (odds_dir / "garbage.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match="could not be read"):
        load_odds(odds_dir / "garbage.mat")


def _write_v73_mat(path, arrays: dict) -> None:
    """A MATLAB v7.3 file: HDF5 with arrays stored transposed, after a MATLAB header."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as file:
        for key, value in arrays.items():
            file[key] = np.asarray(value).T
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 ."
    with open(path, "r+b") as file:
        file.write(header.ljust(116, b" ") + bytes(8) + b"\x00\x02" + b"IM")


# ODDS http and smtp are MATLAB v7.3 (HDF5) files, which scipy cannot read.
def test_load_odds_v73(tmp_path, monkeypatch):
    X, y = np.arange(12.0).reshape(4, 3), np.array([[0], [1], [0], [1]])
    _write_v73_mat(tmp_path / "http.mat", {"X": X, "y": y})
    X_read, y_read = load_odds(tmp_path / "http.mat")
    assert_array_equal(X_read, X)
    assert_array_equal(y_read, y.ravel())
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if h5py were not installed
    with pytest.raises(ValueError, match="v7.3 .*needs h5py"):
        load_odds(tmp_path / "http.mat")


# ----------------------------------------------------------------------
# The shared data, when present

MNIST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
ODDS_SHAPES = {
    "annthyroid": (7200, 6, 534),
    "cardio": (1831, 21, 176),
    "letter": (1600, 32, 100),
    "mnist": (7603, 100, 700),
    "optdigits": (5216, 64, 150),
    "pendigits": (6870, 16, 156),
    "pima": (768, 8, 268),
    "satellite": (6435, 36, 2036),
    "satimage-2": (5803, 36, 71),
    "thyroid": (3772, 6, 93),
    "wbc": (378, 30, 21),
}


def test_shared_mnist(shared_data):
    folder = shared_data / "mnist"
    for name, md5 in MNIST_MD5.items():
        assert _md5(folder / name) == md5
    X, y = load_mnist(folder)
    assert X.shape == (10_000, 784) and X.min() == 0 and X.max() == 1
    assert abs(X.mean() * 255 - 33.79) < 0.01
    expected_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert_array_equal(np.bincount(y), expected_counts)
    X_train, X_test, y_train, y_test = load_mnist_split(shared_data)  # the parent works
    assert X_train.shape == (8000, 784) and X_test.shape == (2000, 784)
    assert_array_equal(X_test, X[-2000:])
    assert_array_equal(y_train, y[:8000])
    assert_array_equal(y_test, y[-2000:])


def test_shared_odds(shared_data):
    paths = list_odds(shared_data / "odds")
    assert [p.stem for p in paths] == sorted(ODDS_SHAPES)
    for path in paths:
        X, y = load_odds(path)
        n_samples, n_features, n_outliers = ODDS_SHAPES[path.stem]
        assert X.shape == (n_samples, n_features) and X.dtype == np.float64
        assert y.shape == (n_samples,) and y.sum() == n_outliers
        assert np.isfinite(X).all()
