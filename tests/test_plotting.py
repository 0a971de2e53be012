"""mslearn.plotting: the figures' helpers draw what they are given and refuse mismatched input."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mslearn.plotting import parity, residuals, show_structure  # noqa: E402


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


def test_show_structure_takes_a_2d_image_or_a_3d_volume():
    fig, ax = plt.subplots()
    show_structure(np.zeros((4, 4, 4), int), ax=ax)                 # the middle slice
    assert ax.images[0].get_array().shape == (4, 4)
    with pytest.raises(ValueError, match=r"labels has shape \(3,\); expected a 2D image or a 3D volume"):
        show_structure(np.ones(3, int), ax=ax)
    plt.close(fig)
