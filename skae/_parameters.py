"""The parameters that both estimators share: their constraints and their
docs (with the fitted attributes' docs), filled into the estimators' docstrings."""

import inspect
import textwrap
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from skae._layers import ACTIVATIONS
from skae._user_networks import Network

# scikit-learn's validation of the shared parameters (each estimator adds its own).
PARAMETER_CONSTRAINTS = {
    "n_components": [
        Interval(Integral, 1, None, closed="left"),
        Interval(Real, 0, 1, closed="neither"),
        StrOptions({"auto", "mle"}),
        None,
    ],
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "architecture": [StrOptions({"mlp", "conv"})],
    "image_shape": ["array-like", None],
    "init": [StrOptions({"auto", "pca", "random"})],
    "encoder": [None, type, Network, nn.Module],
    "decoder": [None, type, Network, nn.Module],
    "scaling": [StrOptions({"auto", "standard", "global", "minmax", "global_minmax"}), None],
    "noise": [StrOptions({"gaussian", "masking", "missing"}), None],
    "noise_level": [Interval(Real, 0, None, closed="left")],
    "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    "neighbor_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
    "perplexity": [Interval(Real, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "learning_rate": [StrOptions({"constant", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "tol": [Interval(Real, 0, None, closed="left")],
    "warm_start": ["boolean"],
    "device": [str, torch.device],
    "mixed_precision": ["boolean"],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def fill_doc(docstring: str) -> str:
    """`docstring`, dedented, with the ``%(name)s`` blocks of SHARED_DOCS filled in."""
    blocks = {name: textwrap.dedent(text).strip("\n") for name, text in SHARED_DOCS.items()}
    return inspect.cleandoc(docstring) % blocks


# Parameter and attribute docs shared by the estimators' docstrings.
SHARED_DOCS = {
    "loss_parameter": """\
    loss : {'auto', 'mse', 'bce'}, default='auto'
        Reconstruction loss: mean squared error, or binary cross-entropy for
        data in [0, 1] such as pixel intensities (other data are scaled into
        [0, 1] first, see `scaling`). 'auto' is 'bce' for
        ``architecture='conv'`` (images) and 'mse' otherwise: on MNIST the
        conv autoencoder's held-out squared error at 32 components was 0.32x
        PCA's with 'bce' and 0.43x with 'mse', in about half the epochs (on
        8 x 8 grey-level digits 'mse' did better at 2 and 32 components).
        A `scaling` of 'standard' or 'global', which leaves [0, 1], makes
        'auto' 'mse'. The fitted choice is ``loss_``.""",
    "network_parameters": """\
    n_components : int, float in (0, 1), 'auto', 'mle' or None, default='auto'
        Size of the (latent) code, at most ``n_features``. 'auto' (and None)
        is ``min(32, n_features // 2)``, at least 1: 32 is the usual code for
        MNIST-sized inputs, and half the features keeps the code a
        compression of the input (unlike PCA's None, which keeps every
        component: a code as wide as the input learns nothing). Pass 2 (or
        3) to draw the codes. As for :class:`~sklearn.decomposition.PCA`, a
        float asks for the smallest code whose reconstructions explain that
        fraction of the variance (`variance_explained_`, on the validation
        rows): ``fit`` starts at PCA's answer on the scaled training data
        and bisects, about ``1 + log2(PCA's size)`` fits in all (``partial_fit``
        does not search; a warm start keeps the size found). 'mle' is PCA's
        estimate of the dimension (Minka, 2000) on the scaled training data,
        one fit.
    hidden_layer_sizes : int or tuple of int, default=None
        For ``architecture='mlp'``, the widths of the encoder's hidden layers
        (the decoder mirrors them); default ``(256, 128)``. For
        ``architecture='conv'``, the channels of each stride-2 convolution;
        default ``(32, 64)``.
    activation : {'relu', 'tanh', 'logistic', 'identity', 'elu', 'gelu'}, default='relu'
        Activation between layers.
    architecture : {'mlp', 'conv'}, default='mlp'
        A fully connected network for tabular data, or a convolutional one for
        images. X stays flat, shape (n_samples, C*H*W), in and out.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)`` for ``architecture='conv'``. When None, a
        square single-channel image is assumed. With your own `encoder`, the
        shape of each sample it receives (``(H, W)`` meaning ``(1, H, W)``);
        None feeds it flat rows.
    init : {'auto', 'pca', 'random'}, default='auto'
        'auto' is 'pca' for skae's networks, but 'random' while the t-SNE
        term is on (see `neighbor_weight`), and 'random' for yours
        (`encoder` and `decoder`). 'pca' gives the encoder and the decoder a
        linear shortcut initialised from a PCA of the (scaled) training data,
        beside the non-linear layers, whose last layer starts at zero:
        training starts from the PCA solution and learns what a linear map
        cannot do. (For losses on [0, 1] the
        decoder outputs logits, and only the encoder starts from PCA. A
        VAE's decoder starts from PCA's, with whitened codes and a noise
        scale of 1, and its encoder at zero: every posterior starts at the
        N(0, I) prior, as posterior means started at PCA's scores stay near
        them and classify no better than PCA's (BENCHMARKS.md, "Defaults");
        with ``likelihood='bernoulli'`` its posterior means start at PCA's
        whitened scores instead.)
        'random' is a plain network with PyTorch's default initialisation
        (or, for your networks, their own).
    encoder : nn.Module class, Network or nn.Module, default=None
        Your own torch encoder, given with a `decoder`, in place of skae's
        networks (then `architecture` and `hidden_layer_sizes` are not used,
        and `activation` only by an adversarial autoencoder's discriminator).
        It maps a batch of samples, shaped ``(batch, n_features)``, or
        ``(batch, *image_shape)`` when `image_shape` is given, to ``(batch,
        n_components)`` codes; a VAE's to ``(batch, 2 *
        n_components)``, the posterior means then the log-variances. Give a
        class, called at fit with the arguments ``n_inputs`` (here
        n_features) and ``n_outputs`` where its constructor takes them; a
        :class:`skae.Network` ``(cls, **kwargs)``, whose arguments are the
        parameters ``encoder__<name>``; or an instance, copied at fit and
        never trained in place (a model holding one can be pickled, not saved
        in skae's format). The shapes are checked at fit, on the device. See
        the user guide, "Bring your own network".
    decoder : nn.Module class, Network or nn.Module, default=None
        Your own torch decoder, given as `encoder` is: it maps a batch of
        codes ``(batch, n_components)`` (``n_inputs``) to the input's shape
        or to flat rows of n_features (``n_outputs``), its raw output: skae
        adds the sigmoid of the losses on [0, 1].
""",
    "training_parameters": """\
    scaling : {'auto', 'standard', 'global', 'minmax', 'global_minmax'} or None, default='auto'
        How features are scaled before the network; the loss is measured in
        this space, and ``inverse_transform`` undoes it. Learned in ``fit`` (or
        the first ``partial_fit``).

        - 'standard': each feature to zero mean and unit variance, so that
          every feature counts alike in the loss, whatever its units.
        - 'global': each feature centred, then all divided by one common scale
          (the root mean variance): the loss is the squared error in X's own
          units, the quantity PCA minimises.
        - 'minmax': each feature to [0, 1].
        - 'global_minmax': X to [0, 1] by its overall minimum and maximum, the
          same for every feature (as dividing 8-bit pixel counts by 255 does).
        - None: X as it is.
        - 'auto': one scale for all features, so that nearly constant ones,
          such as border pixels, are not blown up: 'global' for the
          autoencoder's MSE and the VAE's Gaussian likelihood (which learns a
          scale per feature on top); for losses on [0, 1] (``loss='bce'``,
          ``likelihood='bernoulli'``), None if X lies in [0, 1], else
          'global_minmax' (with a range per feature, a pixel dark in every
          training image would put a lit one in a new image far outside
          [0, 1], where these losses are not defined).
    noise : {'gaussian', 'masking', 'missing'} or None, default=None
        Corruption of the inputs during training, for a denoising autoencoder:
        Gaussian noise of standard deviation `noise_level`, or a fraction
        `noise_level` of the entries set to 0 (e.g. pixels switched off), both
        in the units of X; or, 'missing', that fraction of the entries hidden
        from the encoder as missing values are (NaN), which trains the network
        to predict an entry from the rest of its row: the setting for
        imputation (:class:`AutoencoderImputer`). The target is the clean
        input, and the validation loss of early stopping is measured on
        corrupted inputs too; ``transform`` never adds noise.
    noise_level : float, default=0.1
        Strength of the `noise`.
    contamination : 'auto' or float in (0, 0.5], default='auto'
        The expected fraction of outliers in the training data, as for
        :class:`~sklearn.ensemble.IsolationForest`. It sets `offset_`, the
        threshold of :meth:`predict`: that fraction of the training rows
        scores below it. A float also trims the training loss: that fraction
        of the worst-fitted samples of each batch (and of the validation set)
        is left out of the mean (least trimmed squares), so that outliers in
        the training data are not learned and stay easy to flag. 'auto'
        trims nothing and sets `offset_` by the boxplot rule on the training
        scores, Q1 - 1.5 IQR, which needs no guess of the fraction.
    neighbor_weight : float or 'auto', default='auto'
        Weight of a parametric t-SNE term (van der Maaten, 2009) added to the
        loss: within each batch, the divergence between the neighbourhoods of
        the samples in the (scaled) input space and in the code, per feature
        of the reconstruction loss. It keeps neighbours together and pushes
        the rest apart, which separates clusters that a reconstruction loss
        alone leaves overlapping in a small code (e.g. a 2-D map of MNIST
        that a linear classifier can read); the decoder is still trained, so
        ``inverse_transform`` keeps working. 'auto' is 10 for an
        :class:`~skae.AutoencoderTransformer` given ``n_components=2``, a code
        asked for to draw a map (not one that 'auto', 'mle' or a fraction
        resolves to; reconstruction error is a little higher: 35.7 against 32.0 per
        MNIST image), and 0 (reconstruction alone) for any other size and for
        the VAE and the adversarial autoencoder, whose codes the term pulls
        away from the prior that ``sample`` and ``score`` use; 1 to 10 is a
        useful range. While the term is on, 'auto' makes
        `batch_size` 1000 and `n_iter_no_change` 30 (neighbours are found
        within a batch, and large batches make short epochs) and `init`
        'random' (the PCA start holds the code near PCA's). Set 0 for a 2-D
        code trained for reconstruction alone (the default before).
    perplexity : float, default=10.0
        The effective number of neighbours of each sample in the t-SNE term,
        as in :class:`~sklearn.manifold.TSNE` but among the samples of a batch
        (capped at the batch size minus one), so smaller than TSNE's usual 30:
        10 in a batch of 1000 drawn from 7,200 samples is about 70 in the
        whole set. Only used when the t-SNE term is on (see `neighbor_weight`).
    batch_size : int or 'auto', default='auto'
        Samples per optimisation step. 'auto' is 64, or 1000 while the t-SNE
        term is on (see `neighbor_weight`).
    learning_rate : {'constant', 'adaptive'}, default='constant'
        Learning-rate schedule of ``fit``, as in
        :class:`~sklearn.neural_network.MLPRegressor`. 'constant' keeps
        `learning_rate_init`. 'adaptive' divides the learning rate by 5 each
        time the monitored loss has not improved by `tol` for
        `n_iter_no_change` epochs, where training would otherwise stop; with
        early stopping, training goes on from the best weights so far. It
        stops once the learning rate is at or below 1e-6 (or at `max_iter`).
        Slower, and usually a better optimum (e.g. a VAE's likelihood).
    learning_rate_init : float, default=1e-3
        Learning rate of the Adam optimiser, at the start of every ``fit`` and
        ``partial_fit`` call.
    max_iter : int, default=200
        Maximum number of epochs (passes over the data).
    alpha : float, default=0.0
        L2 penalty (weight decay) of the optimiser.
    early_stopping : bool, default=True
        Whether to hold out `validation_fraction` of the data and stop when the
        validation loss stops improving, restoring the weights of the best
        epoch: the last to improve the best validation loss by more than
        `tol`, so within `tol` of the lowest, as Keras's ``EarlyStopping``
        with ``min_delta=tol`` and ``restore_best_weights=True`` (the starting
        point counts, so with ``init='pca'`` and a squared error loss the
        result is never worse than PCA on the validation data; a fit whose
        training loss diverges is an error all the same). Unlike
        ``MLPRegressor`` this is on by default. When False, training stops
        once the training loss stops improving, and the last epoch's weights
        are kept.
    validation_fraction : float, default=0.1
        Fraction of the data held out for early stopping.
    n_iter_no_change : int or 'auto', default='auto'
        Epochs without an improvement of at least `tol` before stopping.
        'auto' is 10, or 30 while the t-SNE term is on (see `neighbor_weight`).
    tol : float, default=1e-4
        Smallest improvement of the monitored loss that counts, in that loss's
        units: for the autoencoder a mean over features, for the VAE the
        negative bound in nats per sample, a sum over features, so that a VAE
        with the default often trains until ``max_iter``
        (``ConvergenceWarning``); a larger ``tol`` stops it sooner.
    warm_start : bool, default=False
        Whether ``fit`` continues from the previous fit instead of starting anew.
        Changed training parameters (e.g. ``learning_rate_init``, ``alpha``)
        take effect; those that define the network (``n_components``, ``init``,
        ``hidden_layer_sizes``, ``activation``, ``architecture``,
        ``image_shape``, ``encoder``, ``decoder``, ``scaling``, ``device``,
        and ``loss`` or ``likelihood``) cannot change, here or in ``partial_fit``.
    device : str or torch.device, default='auto'
        Where the network runs: 'auto' (CUDA when available, else CPU), 'cpu',
        'cuda', 'cuda:1', ... Batches are copied to the device as they are used.
    mixed_precision : bool, default=False
        Train under bfloat16 autocast: fast on recent GPUs, slow on CPUs
        without native bfloat16 (see the GPU guide).
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the rows of the PCA start, the validation split,
        the shuffling, the noise, and the VAE's posterior draws in training
        and in ``score_samples``. The same integer gives the same model on the
        CPU (with the same number of threads).
    verbose : int, default=0
        0 is silent, 1 shows a progress bar with the loss, 2 prints a line per epoch
        (as 1 does in ``partial_fit``, whose calls are one epoch each). A
        ``fit`` first says what the loss measures and in which units (the
        scaled space of `scaling`), and ends with how it stopped when it
        converged or restored an epoch: the epoch whose weights early
        stopping kept, and its validation loss (a fit that runs out of
        epochs warns instead).
""",
    "fitted_attributes": """\
    n_components_ : int
        Size of the fitted network's code (`n_components` when it was fitted).
    network_ : torch.nn.Module
        The trained network; its ``encoder`` and ``decoder`` are plain torch modules.
    optimizer_ : torch.optim.Optimizer
        The Adam optimiser; ``partial_fit`` and ``warm_start`` continue from
        its state.
    device_ : torch.device
        The device the network is on.
    scaling_ : str or None
        The resolved `scaling`.
    input_offset_, input_scale_ : ndarray of shape (n_features_in_,)
        The internal scaling is ``(X - input_offset_) / input_scale_``.
    image_shape_ : tuple of int or None
        The resolved ``(C, H, W)`` for ``architecture='conv'``.
    loss_curve_ : list of float
        Mean training loss of each epoch (a trimmed mean with `contamination`,
        on corrupted inputs with `noise`), in the scaled space of `scaling`
        (``verbose`` says which units).
    validation_loss_curve_ : list of float
        Mean validation loss of each epoch (empty without early stopping).
    best_loss_ : float
        Best monitored loss (the validation loss with early stopping, else
        the training loss): that of the last epoch to improve on the best
        before it by more than `tol`; no later epoch of this fit, once the
        objective is fixed (after a VAE's `kl_warmup`), is lower by `tol` or
        more. Each fit starts its own best (a warm start too).
    best_epoch_ : int
        Epoch (1-based) of `best_loss_`, whose weights early stopping keeps.
        When early stopping kept the starting point of a fit, the number of
        epochs run before it: 0 for a fresh fit.
    n_iter_ : int
        Number of epochs run.
    variance_explained_ : float
        The fraction of the variance of the validation rows (the training
        rows without early stopping; after ``partial_fit``, its chunk) that
        the reconstructions explain, ``inverse_transform(transform(X))``:
        1 - residual / total sum of squares in the scaled space, the
        measure of ``PCA.explained_variance_ratio_.sum()`` (on PCA of the
        scaled data). What a float `n_components` asks for.
    offset_ : float
        The training score below which a sample is an outlier (see
        `contamination`): ``decision_function(X) = score_samples(X) -
        offset_``. Computed on the training data (at most 2,000 evenly
        spaced rows); after ``partial_fit``, on its chunk (at most 500).
""",
    "feature_attributes": """\
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

""",
}
