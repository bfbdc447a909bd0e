"""Data-parallel fits on torch.distributed: 2 gloo ranks on 127.0.0.1,
spawned inside each test and bounded in time."""

import contextlib
import datetime
import multiprocessing
import os
import socket
import threading
import traceback

import numpy as np
import pytest
import torch
import torch.distributed as dist

from skae import AdversarialAutoencoderTransformer, AutoencoderTransformer, VAETransformer
from skae._distributed import LOCAL, Ranks, single_process

# A spawned rank imports torch and skae afresh: seconds; the whole run is bounded.
TIMEOUT = 120
ESTIMATORS = {"ae": AutoencoderTransformer, "vae": VAETransformer}
PARAMS = dict(
    n_components=3, hidden_layer_sizes=(16,), batch_size=40, learning_rate_init=0.01, random_state=0
)
# Converged fits (by early stopping), whose held-out errors can be compared.
CONVERGED = dict(max_iter=100, early_stopping=True, **PARAMS)


def low_rank_data(n_samples=800):
    """Rows near a 3-dimensional subspace of 10 features, plus noise."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 3)) @ rng.normal(size=(3, 10))
    return (X + 0.3 * rng.normal(size=X.shape)) * np.linspace(0.5, 4, 10) + 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(target, *args, world=2):
    """Run `target(rank, world, *args)` on `world` spawned ranks, each in
    its process group; the exit codes, or None for a rank still running at TIMEOUT (then killed)."""
    context = multiprocessing.get_context("spawn")
    port = _free_port()
    processes = [
        context.Process(target=_in_process_group, args=(target, rank, world, port, *args))
        for rank in range(world)
    ]
    for process in processes:
        process.start()
    codes = []
    for process in processes:
        process.join(TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
            codes.append(None)
        else:
            codes.append(process.exitcode)
    return codes


@contextlib.contextmanager
def _process_group(rank, world, port):
    """A gloo group, destroyed however the block ends: a rank that exits
    without destroying it can abort at exit (SIGABRT) while gloo's threads
    still hold work, pytorch/pytorch#190489."""
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


def _in_process_group(target, rank, world, port, *args):
    with _process_group(rank, world, port):
        target(rank, world, *args)


def _fit_shards(rank, world, out):
    """Each rank fits both estimators on its rows (every other row of the
    data), and one more alone inside single_process()."""
    X = low_rank_data()[:600]
    shard = X[rank::world]
    results = {}
    for name, estimator in ESTIMATORS.items():
        model = estimator(**CONVERGED).fit(shard)
        weights = torch.cat([p.detach().flatten() for p in model.network_.parameters()])
        results[f"{name}_weights"] = weights.numpy()
        results[f"{name}_offset"] = model.input_offset_
        results[f"{name}_scale"] = model.input_scale_
        results[f"{name}_threshold"] = np.array([model.offset_])
        results[f"{name}_curve"] = np.array(model.validation_loss_curve_)
        results[f"{name}_codes"] = model.transform(low_rank_data()[600:])
        results[f"{name}_reconstruction"] = model.inverse_transform(results[f"{name}_codes"])
    # The adversarial autoencoder all-reduces its three players' gradients by hand.
    adversarial = AdversarialAutoencoderTransformer(max_iter=3, **PARAMS).fit(shard)
    results["aae_weights"] = torch.cat(
        [p.detach().flatten() for p in adversarial.network_.parameters()]
    ).numpy()
    results["aae_codes"] = adversarial.transform(low_rank_data()[600:])
    if rank == 1:  # fits alone while rank 0 waits below: no collective may run
        with single_process():
            alone = AutoencoderTransformer(max_iter=3, **PARAMS).fit(shard)
        results["alone_codes"] = alone.transform(shard)
    dist.barrier()
    np.savez(os.path.join(out, f"rank{rank}.npz"), **results)


@pytest.fixture(scope="module")
def two_rank_fit(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    assert _run_ranks(_fit_shards, str(out)) == [0, 0]
    return [dict(np.load(out / f"rank{rank}.npz")) for rank in range(2)]


@pytest.mark.parametrize("name", [*ESTIMATORS, "aae"])
def test_ranks_end_with_the_same_model(two_rank_fit, name):
    first, second = two_rank_fit
    for key in first:
        if key.startswith(name):
            np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_statistics_are_those_of_all_rows(two_rank_fit, name):
    # The scaling of the union of the shards: reduced, not rank 0's.
    X = low_rank_data()[:600]
    single = ESTIMATORS[name](max_iter=1, **PARAMS).fit(X)
    fitted = two_rank_fit[0]
    np.testing.assert_allclose(fitted[f"{name}_offset"], single.input_offset_, rtol=1e-12)
    np.testing.assert_allclose(fitted[f"{name}_scale"], single.input_scale_, rtol=1e-12)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_matches_a_single_process_fit(two_rank_fit, name):
    # The same rows and global batch in one process: batches are made of
    # other rows, so the weights differ; the held-out error lies within 2%
    # of the spread of one process's errors over random_state 0-9 (none for
    # the autoencoder, which starts and stays near PCA; for the VAE, whose
    # fits spread by about 2.5%, one seed is not enough).
    X, X_test = low_rank_data()[:600], low_rank_data()[600:]
    single_errors = []
    for seed in range(10):
        single = ESTIMATORS[name](**{**CONVERGED, "random_state": seed}).fit(X)
        codes = single.transform(X_test)
        single_errors.append(np.mean((single.inverse_transform(codes) - X_test) ** 2))
    error = np.mean((two_rank_fit[0][f"{name}_reconstruction"] - X_test) ** 2)
    assert 0.98 * min(single_errors) <= error <= 1.02 * max(single_errors), (error, single_errors)


def test_single_process_fits_alone(two_rank_fit):
    X = low_rank_data()[:600]
    alone = AutoencoderTransformer(max_iter=3, **PARAMS).fit(X[1::2])
    np.testing.assert_array_equal(two_rank_fit[1]["alone_codes"], alone.transform(X[1::2]))


def _fit_with_a_failing_rank(rank, world, out, failure):
    """Rank 1 fails (`failure`); rank 0 writes the error it stopped with."""
    X = low_rank_data()[rank::world]
    if rank == 1 and failure == "bad input":
        X = X[:, :5]
    if rank == 1 and failure == "killed":
        threading.Timer(3.0, os._exit, (1,)).start()
    try:
        AutoencoderTransformer(max_iter=10_000, n_iter_no_change=10_000, **PARAMS).fit(X)
    except Exception:
        with open(os.path.join(out, f"rank{rank}.txt"), "w") as file:
            file.write(traceback.format_exc())
        raise SystemExit(3) from None


def test_a_rank_with_bad_input_stops_all(tmp_path):
    assert _run_ranks(_fit_with_a_failing_rank, str(tmp_path), "bad input") == [3, 3]
    assert "different numbers of features: [10, 5]" in (tmp_path / "rank0.txt").read_text()


def test_a_killed_rank_stops_the_others_with_an_error(tmp_path):
    codes = _run_ranks(_fit_with_a_failing_rank, str(tmp_path), "killed")
    assert codes == [3, 1]  # rank 0 raised (no hang); rank 1 was killed
    assert "Error" in (tmp_path / "rank0.txt").read_text()


def _fit_with_a_rank_that_raises_first(rank, world, out):
    X = low_rank_data()[rank::world]
    if rank == 1:
        X = X.astype(object)
        X[0, 0] = "not a number"
    try:
        AutoencoderTransformer(max_iter=2, **PARAMS).fit(X)
    except Exception as error:
        with open(os.path.join(out, f"rank{rank}.txt"), "w") as file:
            file.write(f"{type(error).__name__}: {error}")
        raise SystemExit(3) from None


def test_a_rank_that_cannot_check_its_input_stops_all(tmp_path):
    assert _run_ranks(_fit_with_a_rank_that_raises_first, str(tmp_path)) == [3, 3]
    assert "Rank(s) [1] of the process group failed while checking X" in (
        (tmp_path / "rank0.txt").read_text()
    )
    assert "not a number" in (tmp_path / "rank1.txt").read_text()


# ----------------------------------------------------------------------
# Without a process group


def test_without_a_process_group_a_fit_is_local():
    assert not dist.is_initialized()
    assert Ranks.current() is LOCAL and not LOCAL.distributed
    assert LOCAL.gather_rows(np.arange(3)).tolist() == [0, 1, 2]


@pytest.mark.parametrize("counts", [(50, 50), (53, 47), (5, 95)])
def test_every_rank_takes_the_same_steps_weighted_by_its_rows(counts):
    # The gradient of a step, all-reduced as a mean over ranks, is the mean
    # over the step's rows of all ranks: each rank's share times its weight
    # adds up to the ranks' number.
    steps = [
        list(Ranks(size=2, rank=rank).steps(torch.randperm(n), 16, counts))
        for rank, n in enumerate(counts)
    ]
    assert len(steps[0]) == len(steps[1]) == min(-(-sum(counts) // 16), min(counts))
    for (rows0, weight0), (rows1, weight1) in zip(*steps):
        total = len(rows0) + len(rows1)
        assert weight0 == pytest.approx(2 * len(rows0) / total)
        assert weight1 == pytest.approx(2 * len(rows1) / total)
    for rank, n in enumerate(counts):
        assert sorted(torch.cat([rows for rows, _ in steps[rank]]).tolist()) == list(range(n))
