import numpy as np

from skae._history import History, closing_line


# restart forgets the best loss so far (a new objective or a training loss
# after a validation one), and keeps the curves.
def test_restart_keeps_the_curves():
    history = History(loss_curve=[2.0, 1.0], best_loss=1.0, n_epochs_no_improvement=3)
    history.restart()
    assert history.best_loss == np.inf and history.n_epochs_no_improvement == 0
    assert history.n_iter == 2


# The fitted attributes are copies: a later fit appending to the history
# does not change what an earlier fit left on the estimator.
def test_fitted_attributes_are_copies():
    history = History(loss_curve=[1.0], validation_loss_curve=[1.5], best_loss=1.5, best_epoch=1)
    attributes = history.fitted_attributes()
    history.loss_curve.append(0.5)
    assert attributes["loss_curve_"] == [1.0] and attributes["n_iter_"] == 1
    assert attributes["best_loss_"] == 1.5 and attributes["best_epoch_"] == 1


# A fit whose epochs never improved on the weights it started from says so,
# rather than naming an epoch it did not keep.
def test_closing_line_names_the_weights_kept():
    history = History(
        loss_curve=[1.0, 1.0, 1.0], best_loss=0.5, best_epoch=0, monitors_validation=True
    )
    history.converged = True
    line = closing_line(history, tol=1e-4, n_iter_no_change=3, max_epochs=10, start_epoch=0)
    assert line.startswith("Stopped at epoch 3: the validation loss did not improve")
    assert "restored the weights it started from (no epoch improved on them)" in line
    history.best_epoch, history.converged = 2, False
    line = closing_line(history, tol=1e-4, n_iter_no_change=3, max_epochs=3, start_epoch=0)
    assert line == "Reached max_iter=3 epochs (epoch 3); restored epoch 2, validation loss 0.5."
