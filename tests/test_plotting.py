"""mslearn.plotting: the figures' helpers draw what they are given and refuse mismatched input."""
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mslearn.plotting import parity, residuals, show_structure, training_history  # noqa: E402


def test_parity_and_residuals_draw_one_point_per_prediction():
    y = np.array([1.0, 2.0, 3.0])
    fig, (a, b) = plt.subplots(1, 2)
    parity(y, y[:, None] + 0.1, ax=a)             # a column of predictions, as a 2D regressor returns
    residuals(y, y + 0.1, ax=b)
    assert a.collections[0].get_offsets().shape == (3, 2) and b.collections[0].get_offsets().shape == (3, 2)
    plt.close(fig)


@pytest.mark.parametrize("draw", [parity, residuals])
def test_a_prediction_per_true_value_is_required(draw):
    with pytest.raises(ValueError, match=r"y_true has shape \(3,\) and y_pred \(2,\)"):
        draw(np.ones(3), np.ones(2))                 # a numpy broadcast error before
    table = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match=r"y_true has shape \(3, 2\) and y_pred \(2, 3\)"):
        draw(table, table.T)                         # paired the wrong values (R² 0.43 for a perfect fit)
    with pytest.raises(ValueError, match="y_pred contains NaN"):
        draw(np.ones(3), np.array([1.0, np.nan, 1.0]))


@pytest.mark.parametrize("draw", [parity, residuals])
def test_empty_or_complex_predictions_are_refused(draw):
    """residuals([], []) drew an empty plot with NaN lines (parity raised scikit-learn's error), and a complex
    prediction lost its imaginary part with a warning only."""
    with pytest.raises(ValueError, match="y_true and y_pred are empty; expected at least one prediction"):
        draw([], [])
    with pytest.raises(TypeError, match="y_true has the complex dtype complex128; expected real numbers"):
        draw(np.array([1 + 1j, 2.0]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="y_pred has dtype <U1; expected real numbers"):   # numpy's cast error
        draw([1.0], ["b"])


def test_parity_of_one_value_shows_no_r2():
    """R² of one value is undefined: the legend read 'R² = nan' (and scikit-learn warned); it shows the MAE."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = parity([1.0], [1.2])
    assert ax.get_legend().get_texts()[0].get_text() == "MAE = 0.2"
    plt.close(ax.figure)


def test_training_history_checks_its_input():
    """A list for history raised AttributeError, best_epoch="2" a TypeError from a concatenation, best_epoch=10 on
    a 2-epoch history drew its line off the curve, and log=True drew negative losses as nothing. Each is refused."""
    fig, ax = plt.subplots()
    with pytest.raises(TypeError, match="history is a list; expected a dict of per-epoch losses"):
        training_history([1.0, 0.5], ax=ax)
    with pytest.raises(TypeError, match=r"history\['train'\] is 1.0; expected a sequence of losses"):
        training_history({"train": 1.0}, ax=ax)
    with pytest.raises(TypeError, match="best_epoch must be an integer >= 0, got str '2'"):
        training_history({"train": [1.0, 0.5]}, best_epoch="2", ax=ax)
    with pytest.raises(ValueError, match=r"best_epoch = 10 is not an epoch of the history \(2 epochs\); "
                                         r"expected a 0-based epoch 0 .. 1"):
        training_history({"train": [1.0, 0.5]}, best_epoch=10, ax=ax)
    with pytest.raises(ValueError, match="holds the loss -0.5, which a logarithmic axis cannot show"):
        training_history({"train": [1.0, -0.5]}, ax=ax)
    assert not ax.lines                                                    # nothing drawn by a refused call
    training_history({"train": [1.0, -0.5], "validation": []}, best_epoch=np.int64(1), log=False, ax=ax)
    assert ax.get_yscale() == "linear" and ax.lines[-1].get_xdata()[0] == 2
    plt.close(fig)


def test_show_structure_takes_a_2d_image_or_a_3d_volume():
    fig, ax = plt.subplots()
    show_structure(np.zeros((4, 4, 4), int), ax=ax)                 # the middle slice
    assert ax.images[0].get_array().shape == (4, 4)
    with pytest.raises(ValueError, match=r"labels has shape \(3,\); expected a 2D image or a 3D volume"):
        show_structure(np.ones(3, int), ax=ax)
    plt.close(fig)


def test_show_structure_draws_large_label_ids_without_a_table_per_label():
    """The colormap had one entry per label up to the largest: grain ids up to 10**9 built a table of gigabytes
    (the process was killed). Up to 256 labels each has its colour; beyond, they share the colormap's 256."""
    fig, ax = plt.subplots()
    show_structure(np.array([[0, 10**9], [5, 7]]), ax=ax)
    image = ax.images[0]
    assert image.get_cmap().N == 256 and image.get_clim() == (-0.5, 10**9 + 0.5)
    ax.clear()
    show_structure(np.arange(9).reshape(3, 3), ax=ax)
    assert ax.images[0].get_cmap().N == 9
    plt.close(fig)


def test_show_structure_refuses_a_continuous_field_and_keeps_labels_of_any_dtype():
    # a float density (np.random.rand) was drawn as if it held phase labels
    import torch
    fig, ax = plt.subplots()
    imshow = r"show_structure draws phase labels: for a continuous field .* use matplotlib's imshow"
    with pytest.raises(ValueError, match=r"labels has non-integer values \(dtype float64\); expected integer phase "
                                         r"labels 0, 1, .*; " + imshow):
        show_structure(np.random.default_rng(0).random((8, 8)), ax=ax)
    with pytest.raises(ValueError, match=r"labels has non-integer values \(dtype float32\).*" + imshow):
        show_structure(torch.full((2, 4, 4), 0.5), ax=ax)
    with pytest.raises(ValueError, match="labels contains NaN; expected integer phase labels 0, 1, .*" + imshow):
        show_structure(np.array([[0.0, 1.0], [np.nan, 1.0]]), ax=ax)
    with pytest.raises(ValueError, match="labels contains the negative label -1; expected phase labels 0, 1"):
        show_structure(np.array([[0, -1], [1, 0]]), ax=ax)   # drawn in phase 0's colour before
    # labels as the book passes them: uint8/int64, booleans, integer-valued floats (an image read as float), tensors
    for labels in (np.array([[0, 1], [2, 1]], np.uint8), np.array([[0, 1], [2, 1]]), np.array([[0.0, 1.0], [2.0, 1.0]]),
                   torch.tensor([[0, 1], [2, 1]])):
        ax.clear()
        show_structure(labels, ax=ax)
        np.testing.assert_array_equal(ax.images[0].get_array(), [[0, 1], [2, 1]])
        assert ax.images[0].get_clim() == (-0.5, 2.5)
    ax.clear()
    show_structure(np.eye(3, dtype=bool), ax=ax)
    assert ax.images[0].get_clim() == (-0.5, 1.5)
    plt.close(fig)
