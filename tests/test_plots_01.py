"""Figures of notebook 01 (plots.scales, plots.depth): they draw, and refuse bad input clearly."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils.data import load_wine, make_two_feature_regression
from course_utils.experiments.depth import depth_statistics
from course_utils.experiments.scales import gradient_descent_path, lr_sweep
from course_utils.plots.depth import DepthPanel, draw_depth_panel, plot_layer_histograms, plot_layer_stats
from course_utils.plots.scales import plot_feature_ranges, plot_loss_surfaces, plot_lr_sweeps, plot_weight_changes
from course_utils.widgets import figure_to_png


def _png(fig):
    assert isinstance(fig, Figure)
    data = figure_to_png(fig, dpi=40)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_scales_figures_draw():
    raw, std = load_wine(), load_wine(standardize=True)
    _png(plot_feature_ranges())
    _png(plot_feature_ranges(raw, std))
    sweep = lr_sweep(std, [], lrs=(1e-3, 1e-1), steps=5)
    _png(plot_lr_sweeps({"standardized": sweep, "raw": lr_sweep(raw, [], lrs=(1e-3, 1e-1), steps=5)}))
    _png(plot_weight_changes({"raw": np.linspace(1e-4, 1, 13)}, raw.feature_names))
    X, y = make_two_feature_regression()
    _png(plot_loss_surfaces([("raw", X, y, gradient_descent_path(X, y, lr=0.01, steps=5))]))


def test_depth_figures_draw():
    stats = {"kaiming": depth_statistics(4, "relu", "kaiming"), "small": depth_statistics(4, "relu", "small")}
    _png(plot_layer_histograms(stats))
    _png(plot_layer_histograms(stats, layers=[1, 4]))
    _png(plot_layer_stats(stats, what=("std", "grad_norm", "weight_grad_norm", "dead")))
    _png(draw_depth_panel(depth_statistics(4, "tanh", "large")))


def test_depth_panel_updates_in_place():
    panel = DepthPanel(max_depth=20)
    a = _png(panel.update(depth_statistics(4, "relu", "kaiming")))
    b = _png(panel.update(depth_statistics(12, "tanh", "large")))
    assert a != b


def test_depth_panel_has_one_bar_per_layer_at_its_dead_or_saturated_percentage():
    panel = DepthPanel(max_depth=15)
    for stats, fraction in [(depth_statistics(4, "relu", "small", n_samples=64), "dead"),
                            (depth_statistics(9, "tanh", "large", n_samples=64), "saturated")]:
        panel.update(stats)
        tops = [path.vertices[:, 1].max() for path in panel.bars.get_paths()]
        centres = [(path.vertices[:, 0].min() + path.vertices[:, 0].max()) / 2 for path in panel.bars.get_paths()]
        assert np.allclose(tops, 100 * getattr(stats, fraction))
        assert np.allclose(centres, np.arange(1, len(stats.layers) + 1))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: plot_feature_ranges("wine"), TypeError, "split"),
        (lambda: plot_lr_sweeps({}), ValueError, "sweeps"),
        (lambda: plot_lr_sweeps({"raw": [1, 2]}), TypeError, "SweepResult"),
        (lambda: plot_weight_changes({"raw": np.ones(3)}, load_wine().feature_names), ValueError, "features"),
        (lambda: plot_loss_surfaces([]), ValueError, "panels"),
        (lambda: plot_layer_histograms({"a": depth_statistics(3, "relu", "kaiming")}, layers=[0]), ValueError,
         "layers"),
        (lambda: plot_layer_stats({"a": depth_statistics(3, "relu", "kaiming")}, what=("var",)), ValueError, "what"),
        (lambda: plot_layer_stats({"a": None}), TypeError, "DepthStats"),
        (lambda: draw_depth_panel("stats"), TypeError, "DepthStats"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_lr_sweep_series_never_share_a_colour():
    from course_utils.data import load_wine
    from course_utils.experiments.scales import lr_sweep
    from course_utils.plots.scales import plot_lr_sweeps

    std = load_wine(standardize=True)
    sweeps = {"standardized, logistic regression": lr_sweep(std, [], (0.1, 1.0), steps=5),
              "standardized, MLP [32]": lr_sweep(std, [32], (0.1, 1.0), steps=5)}
    ax = plot_lr_sweeps(sweeps).axes[0]
    labelled = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len({line.get_color() for line in labelled}) == len(labelled) == 2


def test_lr_sweep_plot_shows_runs_whose_loss_is_exactly_zero():
    # A separable problem at a huge learning rate ends with loss exactly 0 in float32: on a log axis that point
    # (and the "largest stable" star on it) would vanish. It is drawn at a floor below the smallest positive loss.
    from course_utils.experiments.scales import SweepResult

    sweep = SweepResult(lrs=(0.1, 1.0, 10.0), final_loss=(0.5, 1e-3, 0.0), baseline=1.0, stall_fraction=0.9,
                        stable=(True, True, True))
    fig = plot_lr_sweeps({"standardized": sweep})
    star = [line for line in fig.axes[0].lines if line.get_marker() == "*"]
    assert len(star) == 1 and star[0].get_xdata()[0] == 10.0
    assert 0 < star[0].get_ydata()[0] < 1e-3          # visible, below every positive loss
    assert any(line.get_marker() == "v" for line in fig.axes[0].lines)   # marked as "exactly 0"
