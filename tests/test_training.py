"""The training engine on its own: the loop, its steps, divergence, negligible weights."""

import numpy as np
import pytest
import torch
from torch import nn

from skae import AutoencoderTransformer, VAETransformer
from skae._batches import Batches
from skae._history import History
from skae._layers import mlp
from skae._losses import Objective
from skae._networks import Autoencoder
from skae._training import TrainingOptions, gradient_step, train


# With contamination, gross outliers in the training data are not learned:
# they keep a worse reconstruction than when every sample counts.
def test_contamination_keeps_outliers_badly_reconstructed(small_X):
    rng = np.random.RandomState(0)
    outliers = small_X.mean(0) + 4 * small_X.std(0) * rng.choice([-1, 1], size=(8, 20))
    X = np.vstack([small_X, outliers])
    params = dict(n_components=3, max_iter=100, early_stopping=False, random_state=0)
    plain = AutoencoderTransformer(**params).fit(X)
    robust = AutoencoderTransformer(contamination=0.1, **params).fit(X)

    def gap(model):  # how much worse the outliers score than the inliers
        return np.median(model.score_samples(small_X)) - np.median(model.score_samples(outliers))

    assert gap(robust) > gap(plain) + 0.1


# Training clears negligible weights, such as those that weight decay leaves
# behind, here one that gets no gradient at all, once per epoch.
def test_training_clears_negligible_weights():
    network = Autoencoder(mlp([3, 4, 2], "relu"), mlp([2, 4, 3], "relu"))
    network.unused = nn.Parameter(torch.tensor([1e-40, 1e-20, 1.0]))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    options = TrainingOptions(max_epochs=1, batch_size=8)
    train(network, optimizer, Batches(X, torch.device("cpu")), None, options, History(), seed=0)
    assert network.unused.tolist() == [0.0, 0.0, 1.0]


# A diverging call restores the network and Adam's state as they were before it,
# from copies that the failed epoch's updates did not touch.
def test_divergence_restores_network_and_optimizer():
    network = Autoencoder(mlp([3, 4, 2], "relu"), mlp([2, 4, 3], "relu"))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    options = TrainingOptions(max_epochs=2, batch_size=8)
    train(network, optimizer, Batches(X, torch.device("cpu")), None, options, History(), seed=0)
    weights = {k: v.clone() for k, v in network.state_dict().items()}
    moments = [v.clone() for s in optimizer.state.values() for v in s.values()]
    optimizer.param_groups[0]["lr"] = 1e30
    with pytest.raises(FloatingPointError, match="diverged"):
        train(
            network,
            optimizer,
            Batches(X * 1e30, torch.device("cpu")),
            None,
            options,
            History(),
            seed=1,
        )
    for name, value in network.state_dict().items():
        assert torch.equal(value, weights[name])
    restored = [v for s in optimizer.state.values() for v in s.values()]
    assert all(torch.equal(a, b) for a, b in zip(restored, moments, strict=True))
    assert optimizer.param_groups[0]["lr"] == 1e30  # the state as the call found it


# verbose=1 shows a progress bar that counts every epoch run, the last one
# of an early stop included; verbose=2 prints a line per epoch, as both do
# per partial_fit call.
def test_verbose_output(capsys):
    X = np.random.RandomState(0).normal(size=(100, 5))
    ae = AutoencoderTransformer(n_iter_no_change=2, verbose=1, random_state=0).fit(X)
    assert ae.n_iter_ < 200 and f"{ae.n_iter_}/200" in capsys.readouterr().err
    AutoencoderTransformer(max_iter=3, verbose=2, random_state=0).fit(X)
    assert capsys.readouterr().err.count("Epoch ") == 3
    stream = AutoencoderTransformer(verbose=1, random_state=0)
    for chunk in np.array_split(X, 3):
        stream.partial_fit(chunk)
    err = capsys.readouterr().err
    assert err.count("Epoch ") == 3 and "epochs:" not in err


# A verbose fit says what its loss measures, and how it ended: the epoch
# early stopping restored and its validation loss, or that the training loss
# converged; partial_fit's one-epoch calls say neither.
def test_verbose_fit_names_units_and_ending(capsys):
    t = np.random.RandomState(0).uniform(0, 2 * np.pi, 200)
    X = np.c_[np.cos(t), np.sin(t), np.cos(2 * t), np.sin(2 * t)]  # a curve PCA cannot unroll
    ae = AutoencoderTransformer(
        n_components=1, scaling="standard", n_iter_no_change=2, verbose=2, random_state=0
    ).fit(X)
    err = capsys.readouterr().err
    assert "Loss: mean squared error per feature, on X with each feature standardised" in err
    assert err.strip().endswith(
        f"Stopped at epoch {ae.n_iter_}: the validation loss did not improve by tol=0.0001 "
        f"for n_iter_no_change=2 epochs; restored epoch {ae.best_epoch_}, "
        f"validation loss {ae.best_loss_:.6g}."
    )
    assert ae.best_epoch_ < ae.n_iter_
    vae = VAETransformer(early_stopping=False, n_iter_no_change=2, verbose=1, random_state=0)
    vae.fit(X)
    err = capsys.readouterr().err
    assert "Loss: negative ELBO per sample, in nats" in err
    assert err.strip().endswith(
        f"Stopped at epoch {vae.n_iter_}: the training loss did not "
        "improve by tol=0.0001 for n_iter_no_change=2 epochs."
    )
    AutoencoderTransformer(verbose=2, random_state=0).partial_fit(X)
    assert "Loss:" not in capsys.readouterr().err


# A model may supply its own training step: the loop calls it on every batch
# with the epoch's objective (here a KL warm-up's) and records what it returns.
def test_train_uses_the_supplied_step():
    network = Autoencoder(mlp([3, 4, 2], "relu"), mlp([2, 4, 3], "relu"))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    X = np.random.RandomState(0).normal(size=(32, 3)).astype(np.float32)
    seen = []

    def make_step(network, optimizer, batches, options):
        default = gradient_step(network, optimizer, batches, options)

        def step(x, objective, generator, weight):
            seen.append((len(x), objective.kl_weight, weight))
            return default(x, objective, generator, weight)

        return step

    objective = Objective(beta=2.0, kl_warmup=1)
    options = TrainingOptions(max_epochs=2, batch_size=8, objective=objective)
    batches = Batches(X, torch.device("cpu"))
    history = train(network, optimizer, batches, None, options, History(), 0, make_step)
    assert seen == [(8, 1.0, 1.0)] * 4 + [(8, 2.0, 1.0)] * 4  # one process: weight 1
    assert history.n_iter == 2 and np.isfinite(history.loss_curve).all()
