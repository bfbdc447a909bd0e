"""Loaders for the benchmark data: MNIST (IDX files) and the ODDS outlier-detection sets.

Nothing here needs the network unless asked: :func:`load_mnist` reads the
original gzipped IDX files from a folder, and downloads them (checking their
md5 sums) only with ``download=True``. ODDS sets are MATLAB ``.mat`` files with
the arrays ``X`` and ``y`` (1 marks an outlier).

The MNIST benchmark protocol used throughout skae: of the 10,000 test images
(``t10k``), the first 8,000 train and the last 2,000 test
(:func:`split_mnist`, :func:`load_mnist_split`).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

__all__ = [
    "MNIST_N_TEST",
    "MNIST_N_TRAIN",
    "download_mnist",
    "get_data_home",
    "list_odds",
    "load_mnist",
    "load_mnist_split",
    "load_odds",
    "read_idx",
    "split_mnist",
]

MNIST_N_TRAIN = 8000
MNIST_N_TEST = 2000

# The original files and their published md5 sums (the ones torchvision checks).
MNIST_FILES = {
    "train": {
        "images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    },
    "t10k": {
        "images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        "labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# IDX type codes (the third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder where downloaded data is cached.

    Parameters
    ----------
    data_home : str or path, default=None
        The folder to use; None is ``$SKAE_DATA`` if set, else ``~/.cache/skae``.

    Returns
    -------
    folder : Path
        The folder, with ``~`` expanded; it is not created here.
    """
    if data_home is None:
        data_home = os.environ.get("SKAE_DATA", Path.home() / ".cache" / "skae")
    return Path(data_home).expanduser()


# ----------------------------------------------------------------------
# MNIST


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped when its name ends in ``.gz``) into an array.

    The header is a magic number (two zero bytes, a type code, the number of
    dimensions) followed by one big-endian uint32 per dimension; the payload
    follows (byte 16 for MNIST images, byte 8 for labels).

    Parameters
    ----------
    path : str or path
        The IDX file.

    Returns
    -------
    array : ndarray
        The payload, of the shape and type the header announces (read-only).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            buffer = file.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} could not be read as a (gzipped) IDX file: {error}") from None
    if len(buffer) < 4 or buffer[0] != 0 or buffer[1] != 0 or buffer[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number {buffer[:4].hex()}.")
    dtype, n_dims = _IDX_DTYPES[buffer[2]], buffer[3]
    offset = 4 + 4 * n_dims
    if len(buffer) < offset:
        raise ValueError(f"{path} is truncated: its header is incomplete.")
    shape = tuple(int(d) for d in np.frombuffer(buffer, ">u4", count=n_dims, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(buffer) - offset != expected:
        raise ValueError(
            f"{path} holds {len(buffer) - offset} payload bytes, but its header "
            f"announces shape {shape} ({expected} bytes)."
        )
    return np.frombuffer(buffer, dtype, offset=offset).reshape(shape)


def _mnist_home(data_dir: str | os.PathLike | None) -> Path:
    return get_data_home() / "mnist" if data_dir is None else Path(data_dir).expanduser()


def _mnist_folder(data_dir: str | os.PathLike | None) -> Path:
    """`data_dir` itself, or its ``mnist/`` subfolder when the files are there."""
    folder = _mnist_home(data_dir)
    if not any((folder / name).is_file() for name, _ in _all_mnist_files()):
        if (folder / "mnist").is_dir():
            return folder / "mnist"
    return folder


def _all_mnist_files():
    for kind in MNIST_FILES.values():
        yield from kind.values()


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    subset: str = "t10k",
    download: bool = False,
    dtype=np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST from its original gzipped IDX files.

    Parameters
    ----------
    data_dir : str or path, default=None
        Folder holding ``t10k-images-idx3-ubyte.gz`` and
        ``t10k-labels-idx1-ubyte.gz`` (or the ``train-`` files), or a folder
        with an ``mnist/`` subfolder holding them. None is
        ``get_data_home() / "mnist"``.
    subset : {'t10k', 'train'}, default='t10k'
        The 10,000 test images or the 60,000 training images.
    download : bool, default=False
        Download the four original files into `data_dir` (checking their md5
        sums) when the ones needed are missing. Never done otherwise.
    dtype : numpy dtype, default=np.float64
        dtype of the pixels.

    Returns
    -------
    X : ndarray of shape (n_samples, 784)
        Pixels scaled to [0, 1], each row a 28 x 28 image in row-major order.
    y : ndarray of shape (n_samples,)
        The digits, as int64.
    """
    if subset not in MNIST_FILES:
        raise ValueError(f"subset must be one of {sorted(MNIST_FILES)}, got {subset!r}.")
    folder = _mnist_folder(data_dir)
    files = {part: folder / name for part, (name, _) in MNIST_FILES[subset].items()}
    missing = [path.name for path in files.values() if not path.is_file()]
    if missing and download:
        download_mnist(folder)
    elif missing:
        where = f"folder {folder}" if folder.is_dir() else f"folder {folder}, which does not exist"
        raise FileNotFoundError(
            f"MNIST file(s) {', '.join(missing)} not found in {where}. Pass data_dir= the "
            "folder holding the IDX files, or download=True to fetch them (needs the network); "
            "in the benchmark, --data-dir DIR or --download."
        )
    images, labels = read_idx(files["images"]), read_idx(files["labels"])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"MNIST images of shape {images.shape} and labels of shape {labels.shape} in "
            f"{folder} do not match."
        )
    X = images.reshape(len(images), -1).astype(dtype) / np.asarray(255, dtype=dtype)
    return X, labels.astype(np.int64)


def split_mnist(
    X: np.ndarray, y: np.ndarray, n_train: int = MNIST_N_TRAIN, n_test: int = MNIST_N_TEST
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The benchmark protocol: the first `n_train` rows train, the last `n_test` test.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Images, in file order.
    y : ndarray of shape (n_samples,)
        Their labels.
    n_train : int, default=8000
        Number of leading rows to train on.
    n_test : int, default=2000
        Number of trailing rows to test on.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        The first `n_train` and the last `n_test` rows of `X` and `y`.

    Examples
    --------
    >>> import numpy as np
    >>> from skae.datasets import split_mnist
    >>> X, y = np.zeros((10_000, 784)), np.arange(10_000)
    >>> X_train, X_test, y_train, y_test = split_mnist(X, y)
    >>> X_train.shape, X_test.shape, int(y_train[-1]), int(y_test[0])
    ((8000, 784), (2000, 784), 7999, 8000)
    """
    if n_train + n_test > len(X):
        raise ValueError(
            f"n_train={n_train} + n_test={n_test} is more than the {len(X)} samples given."
        )
    return X[:n_train], X[len(X) - n_test :], y[:n_train], y[len(y) - n_test :]


def load_mnist_split(
    data_dir: str | os.PathLike | None = None, **kwargs
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`load_mnist` (t10k), split by :func:`split_mnist`: 8,000 train, 2,000 test.

    Parameters
    ----------
    data_dir : str or path, default=None
        As for :func:`load_mnist`.
    **kwargs
        Other arguments of :func:`load_mnist` (``subset``, ``download``, ``dtype``).

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Pixels in [0, 1] and int64 labels of the first 8,000 and the last
        2,000 test images.
    """
    return split_mnist(*load_mnist(data_dir, **kwargs))


def download_mnist(
    data_dir: str | os.PathLike | None = None, *, mirrors=None, timeout: float = 60
) -> Path:
    """Download the four original MNIST IDX files into `data_dir`, checking md5 sums.

    Files already present with the right md5 sum are kept. Each file is written
    under a temporary name and renamed once its checksum is right.

    Parameters
    ----------
    data_dir : str or path, default=None
        The folder to write into (created if needed); None is
        ``get_data_home() / "mnist"``.
    mirrors : sequence of str, default=None
        Base URLs, tried in turn for each file; None is ``MNIST_MIRRORS``.
    timeout : float, default=60
        Seconds to wait for a server before trying the next mirror.

    Returns
    -------
    folder : Path
        The folder holding the files.
    """
    folder = _mnist_home(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in _all_mnist_files():
        target = folder / name
        if target.is_file() and _md5(target) == md5:
            continue
        errors = []
        for mirror in MNIST_MIRRORS if mirrors is None else mirrors:
            try:
                _fetch(mirror + name, target, md5, timeout)
                break
            # URLError is an OSError; a truncated transfer raises IncompleteRead.
            except (OSError, ValueError, http.client.HTTPException) as error:
                errors.append(f"{mirror + name}: {error}")
        else:
            raise OSError(f"could not download {name}:\n  " + "\n  ".join(errors))
    return folder


def _fetch(url: str, target: Path, md5: str, timeout: float) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, tmp)
            tmp.close()
            found = _md5(Path(tmp.name))
            if found != md5:
                raise ValueError(f"md5 {found} differs from the expected {md5}")
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------
# ODDS


def _odds_folder(data_dir: str | os.PathLike) -> Path:
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"ODDS folder {folder} does not exist.")
    if not any(folder.glob("*.mat")) and (folder / "odds").is_dir():
        folder = folder / "odds"
    return folder


def list_odds(data_dir: str | os.PathLike) -> list[Path]:
    """The ODDS ``.mat`` files in `data_dir` (or in its ``odds/`` subfolder), sorted by name.

    Parameters
    ----------
    data_dir : str or path
        The folder holding the ``.mat`` files, or one with an ``odds/``
        subfolder holding them.

    Returns
    -------
    paths : list of Path
        The files; load one with :func:`load_odds` (``path.stem`` is the data
        set's name).
    """
    folder = _odds_folder(data_dir)
    paths = sorted(folder.glob("*.mat"))
    if not paths:
        raise FileNotFoundError(f"no ODDS .mat files in {folder}.")
    return paths


def load_odds(
    path: str | os.PathLike, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one ODDS data set from its ``.mat`` file.

    Parameters
    ----------
    path : str or path
        The ``.mat`` file, or with `data_dir` a data set's name such as ``"cardio"``.
    data_dir : str or path, default=None
        Folder in which to look for ``{path}.mat``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The features, as float64.
    y : ndarray of shape (n_samples,)
        1 for an outlier, 0 for an inlier, as int64.
    """
    from scipy.io import loadmat  # scipy.io is slow to import; only needed here

    path = Path(path).expanduser()
    if data_dir is not None and not path.is_file():
        name = path.name if path.suffix == ".mat" else f"{path.name}.mat"
        path = _odds_folder(data_dir) / name
    if not path.is_file():
        raise FileNotFoundError(f"ODDS file {path} does not exist.")
    try:
        contents = loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 files (ODDS http, smtp) are HDF5
        contents = _load_hdf5_mat(path)
    except Exception as error:  # scipy raises several types for bad files
        raise ValueError(f"{path} could not be read as a MATLAB .mat file: {error}") from None
    missing = {"X", "y"} - set(contents)
    if missing:
        raise ValueError(f"{path} lacks the array(s) {sorted(missing)}: ODDS files hold X and y.")
    X = np.asarray(contents["X"], dtype=np.float64)
    y = np.asarray(contents["y"]).ravel()
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"{path}: X of shape {X.shape} and y of shape {y.shape} do not match.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{path}: y must hold 0 (inlier) and 1 (outlier) only.")
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: X holds NaN or infinite values.")
    return X, y.astype(np.int64)


def _load_hdf5_mat(path: Path) -> dict:
    """X and y of a MATLAB v7.3 file, which is HDF5 and stores arrays transposed."""
    try:
        import h5py
    except ImportError:
        raise ValueError(
            f"{path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py: pip install h5py"
        ) from None
    with h5py.File(path, "r") as file:
        return {key: np.asarray(file[key]).T for key in ("X", "y") if key in file}
