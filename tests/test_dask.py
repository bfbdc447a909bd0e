"""Dask: lazy row-wise methods of Dask arrays, streaming partial_fit, and
searches on a LocalCluster of 2 worker processes on 127.0.0.1 (bounded in
time). Skipped without the "dask" extra."""

import json
import os
import signal
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer

da = pytest.importorskip("dask.array")

ESTIMATORS = [AutoencoderTransformer, VAETransformer, AdversarialAutoencoderTransformer]
PARAMS = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
# A LocalCluster's worker processes import torch and skae afresh: seconds.
CLUSTER_TIMEOUT = 240


def data(n_samples=600, n_features=8):
    return np.random.RandomState(0).normal(size=(n_samples, n_features))


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda cls: cls.__name__)
def fitted(request):
    return request.param(**PARAMS).fit(data())


@pytest.mark.parametrize(
    "method, shape",
    [
        ("transform", (600, 3)),
        ("score_samples", (600,)),
        ("decision_function", (600,)),
        ("predict", (600,)),
        ("score_samples_by_feature", (600, 8)),
    ],
)
def test_methods_of_rows_are_lazy_and_match_numpy(fitted, method, shape):
    X = data()
    # Column chunks too: each block of rows is given all its columns.
    lazy = getattr(fitted, method)(da.from_array(X, chunks=(250, 5)))
    assert isinstance(lazy, da.Array)
    assert lazy.shape == shape and lazy.chunks[0] == (250, 250, 100)
    # The VAE's float32 network may round a row's score differently (by one
    # float32 step) when its batch is cut elsewhere.
    np.testing.assert_allclose(lazy.compute(), getattr(fitted, method)(X), rtol=1e-6)


def test_inverse_transform_and_score_of_dask_arrays(fitted):
    X = data()
    codes = fitted.transform(X)
    lazy = fitted.inverse_transform(da.from_array(codes, chunks=(200, 3)))
    assert isinstance(lazy, da.Array) and lazy.shape == X.shape
    np.testing.assert_array_equal(lazy.compute(), fitted.inverse_transform(codes))
    assert fitted.score(da.from_array(X, chunks=200)) == pytest.approx(fitted.score(X), rel=1e-6)


def test_float32_blocks_give_float32_codes():
    X = data().astype(np.float32)
    model = AutoencoderTransformer(**PARAMS).fit(X)
    codes = model.transform(da.from_array(X, chunks=200))
    assert codes.dtype == np.float32 and codes.compute().dtype == np.float32


def test_pandas_output_computes_into_data_frames():
    pd = pytest.importorskip("pandas")
    X = data()
    model = AutoencoderTransformer(**PARAMS).set_output(transform="pandas").fit(X)
    X_dask = da.from_array(X, chunks=200)
    for method in ("transform", "score_samples_by_feature"):
        frame = getattr(model, method)(X_dask)
        assert isinstance(frame, pd.DataFrame)
        pd.testing.assert_frame_equal(frame, getattr(model, method)(X))


def test_lazy_result_is_that_of_the_model_when_called():
    X = data()
    model = AutoencoderTransformer(**PARAMS).fit(X)
    expected = model.transform(X)
    lazy = model.transform(da.from_array(X, chunks=200))
    model.partial_fit(X)  # a later fit changes the model, not the lazy result
    np.testing.assert_array_equal(lazy.compute(), expected)
    assert not np.array_equal(model.transform(X), expected)


def test_wrong_width_fails_at_the_call_not_the_compute(fitted):
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 8"):
        fitted.transform(da.from_array(data(n_features=5), chunks=200))
    with pytest.raises(ValueError, match="2-D"):
        fitted.score_samples(da.from_array(np.zeros(8), chunks=4))


def test_empty_blocks_give_empty_results(fitted):
    X = da.from_array(data(), chunks=200)
    X = X[X[:, 0] > 100]  # no rows, in blocks of unknown size
    assert fitted.transform(X).compute().shape == (0, 3)
    assert fitted.score_samples(X).compute().shape == (0,)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_partial_fit_of_a_dask_array_is_partial_fit_of_each_block(cls):
    X = data()
    streamed = cls(**PARAMS).partial_fit(da.from_array(X, chunks=(200, 3)))
    by_hand = cls(**PARAMS)
    for start in range(0, 600, 200):
        by_hand.partial_fit(X[start : start + 200])
    assert streamed.n_iter_ == by_hand.n_iter_ == 3
    np.testing.assert_array_equal(streamed.transform(X), by_hand.transform(X))
    np.testing.assert_array_equal(streamed.offset_, by_hand.offset_)


def test_partial_fit_checks_the_width_of_later_arrays():
    model = AutoencoderTransformer(**PARAMS).partial_fit(da.from_array(data(), chunks=200))
    with pytest.raises(ValueError, match="X has 5 features"):
        model.partial_fit(da.from_array(data(n_features=5), chunks=200))


def _peak_bytes(run) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_holds_a_few_blocks_not_the_array():
    # 8 blocks made on demand (never in memory together unless computed so).
    n_blocks, block = 8, (4000, 50)
    X = da.random.default_rng(0).standard_normal((n_blocks * block[0], block[1]), chunks=block)
    array_bytes = X.nbytes
    params = dict(PARAMS, hidden_layer_sizes=(8,), batch_size=500)
    # A first fit imports what fitting needs, which tracemalloc would count.
    AutoencoderTransformer(**params).partial_fit(X[:500].compute()).transform(X[:5].compute())
    model = AutoencoderTransformer(**params)
    streamed = _peak_bytes(lambda: model.partial_fit(X))
    assert model.n_iter_ == n_blocks
    # What the test can tell apart: the array computed at once.
    whole = _peak_bytes(lambda: AutoencoderTransformer(**params).partial_fit(X.compute()))
    assert whole > array_bytes
    assert streamed < array_bytes / 2, (streamed / array_bytes, whole / array_bytes)
    encoded = _peak_bytes(lambda: model.transform(X).sum().compute())
    assert encoded < array_bytes / 2


def test_skae_does_not_import_dask():
    code = "import sys, skae; sys.exit('dask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def on_cluster() -> dict:
    """GridSearchCV, cross_validate, lazy transform and streaming partial_fit
    on a LocalCluster of 2 worker processes, beside the same in one process."""
    import joblib
    from distributed import Client, LocalCluster, get_task_stream
    from sklearn.model_selection import GridSearchCV, cross_validate

    X = data(400)
    model = AutoencoderTransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=3)
    grid = {"n_components": [2, 3], "random_state": [0]}
    local_search = GridSearchCV(model, grid, cv=2).fit(X)
    local_cv = cross_validate(model.set_params(random_state=0), X, cv=2)
    result = {}
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        result["addresses"] = [cluster.scheduler_address, *client.scheduler_info()["workers"]]
        with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            search = GridSearchCV(model, grid, cv=2, n_jobs=-1).fit(X)
            cv = cross_validate(model, X, cv=2, n_jobs=-1)
        result["worker_tasks"] = len(tasks.data)
        result["search"] = [
            search.cv_results_["mean_test_score"].tolist(),
            local_search.cv_results_["mean_test_score"].tolist(),
        ]
        result["cross_validate"] = [cv["test_score"].tolist(), local_cv["test_score"].tolist()]
        X_dask = da.from_array(X, chunks=100)
        fitted = search.best_estimator_
        result["transform"] = bool(
            np.array_equal(fitted.transform(X_dask).compute(), fitted.transform(X))
        )
        streamed = AutoencoderTransformer(**PARAMS).partial_fit(X_dask)
        # Each block computed on the cluster, one at a time.
        streamed = AutoencoderTransformer(**PARAMS).partial_fit(X_dask)
        by_hand = AutoencoderTransformer(**PARAMS)
        for start in range(0, len(X), 100):
            by_hand.partial_fit(X[start : start + 100])
        result["partial_fit"] = bool(np.array_equal(streamed.transform(X), by_hand.transform(X)))
    return result


def test_search_cross_validate_and_streaming_on_a_local_cluster():
    pytest.importorskip("distributed")
    # In its own process group, so that a hung run is killed with its workers.
    process = subprocess.Popen(
        [sys.executable, __file__],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=CLUSTER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"the LocalCluster run took over {CLUSTER_TIMEOUT} s")
    assert process.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert all(address.startswith("tcp://127.0.0.1:") for address in result["addresses"])
    assert len(result["addresses"]) == 3  # the scheduler and 2 workers
    assert result["worker_tasks"] > 0  # the fits ran on the workers
    # The same fits as in one process (torch on CPU is deterministic per seed).
    np.testing.assert_allclose(*result["search"], rtol=1e-6)
    np.testing.assert_allclose(*result["cross_validate"], rtol=1e-6)
    assert result["transform"] and result["partial_fit"]


if __name__ == "__main__":  # the LocalCluster run, in a process of its own
    print(json.dumps(on_cluster()))
