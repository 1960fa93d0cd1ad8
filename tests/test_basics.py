import numpy as np
import pytest

from course_utils.plots.basics import sample_feature, standardize
from course_utils.widgets.basics import build_standardize_explorer


def test_standardize_gives_zero_mean_unit_std_whatever_the_scale():
    for mean, std in ((50.0, 10.0), (-3.0, 0.5), (1e3, 300.0)):
        z = standardize(sample_feature(mean, std))
        assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-3


def test_eps_matters_only_for_features_with_tiny_variance():
    # var = 1e-4 is only 10x eps = 1e-5, so the std comes out near sqrt(1e-4 / 1.1e-4) ~ 0.95
    z = standardize(sample_feature(0.0, 0.01))
    assert 0.9 < z.std() < 0.97


def test_explorer_redraws_when_a_slider_moves():
    explorer = build_standardize_explorer()
    first = explorer.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and explorer.redraws == 1
    explorer.controls["mean"].value = -40.0
    assert explorer.redraws == 2 and explorer.image.value != first
    explorer.controls["std"].value = 100.0
    assert explorer.redraws == 3
    assert np.isclose(explorer.values()["std"], 100.0)


def test_gradient_descent_panel_gets_slower_as_the_feature_moves_away_from_mean_0_std_1():
    from course_utils.plots.basics import gd_on_problem, two_feature_problem

    easy = gd_on_problem(*two_feature_problem(0.0, 1.0))
    shifted = gd_on_problem(*two_feature_problem(50.0, 10.0))
    assert easy["kappa"] < 2 and shifted["kappa"] > 100
    assert easy["gap"] < 1e-6 < shifted["gap"]
    assert np.array_equal(easy["path"][0], [0.0, 0.0]) and np.array_equal(shifted["path"][0], [0.0, 0.0])


def test_panel_titles_report_the_condition_numbers():
    from course_utils.plots.basics import StandardizePanel

    fig = StandardizePanel().update(0.0, 1.0)
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("x2 standardized: condition" in t for t in texts)
    assert any(t.startswith("standardized: mean 0.00, std 1.00") for t in texts)


@pytest.mark.parametrize(("mean", "std", "match"), [(1e300, 1.0, "mean must be between"),
                                                    (0.0, 1e300, "std must be between"),
                                                    (float("nan"), 1.0, "mean"), (0.0, -1.0, "std")])
def test_extreme_values_get_a_clear_error(mean, std, match):
    from course_utils.plots.basics import StandardizePanel

    with pytest.raises(ValueError, match=match):
        StandardizePanel().update(mean, std)
    with pytest.raises(ValueError, match=match):
        build_standardize_explorer(mean, std)


def test_loss_ellipses_are_exact_contours_of_the_quadratic():
    import numpy as np

    from course_utils.plots.basics import loss_ellipses

    A = np.array([[1.0, 0.3], [0.3, 0.02 + 0.09]])
    w_star = np.array([0.5, -2.0])
    drops = np.array([1e-4, 0.1, 3.0])
    for drop, ellipse in zip(drops, loss_ellipses(A, w_star, drops), strict=True):
        d = ellipse - w_star
        assert np.allclose(0.5 * np.einsum("ni,ij,nj->n", d, A, d), drop)
        assert np.allclose(ellipse[0], ellipse[-1])  # closed
