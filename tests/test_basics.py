import numpy as np
import pytest

from course_utils.plots.basics import sample_feature, standardization_figure, standardize
from course_utils.widgets.basics import build_standardize_explorer


def test_standardize_gives_zero_mean_unit_std_whatever_the_scale():
    for mean, std in ((50.0, 10.0), (-3.0, 0.5), (1e3, 300.0)):
        z = standardize(sample_feature(mean, std))
        assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-3


def test_eps_matters_only_for_features_with_tiny_variance():
    # var = 1e-4 is only 10x eps = 1e-5, so the std comes out near sqrt(1e-4 / 1.1e-4) ~ 0.95
    z = standardize(sample_feature(0.0, 0.01))
    assert 0.9 < z.std() < 0.97


def test_figure_titles_report_the_statistics():
    fig = standardization_figure(mean=20.0, std=5.0)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1] == "standardized: mean 0.00, std 1.00"
    assert titles[0] == "raw feature: mean 19.87, std 5.07"


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="std must be > 0"):
        standardization_figure(std=0)
    with pytest.raises(TypeError, match="mean must be a number"):
        standardization_figure(mean="big")


def test_explorer_redraws_when_a_slider_moves():
    explorer = build_standardize_explorer()
    first = explorer.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and explorer.redraws == 1
    explorer.controls["mean"].value = -40.0
    assert explorer.redraws == 2 and explorer.image.value != first
    explorer.controls["std"].value = 100.0
    assert explorer.redraws == 3
    assert np.isclose(explorer.values()["std"], 100.0)
