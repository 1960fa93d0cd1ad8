"""Figures of notebook 04: labelled axes, course colours, seed spread."""

import io

import numpy as np
import pytest
from PIL import Image

from course_utils.experiments import layernorm as E
from course_utils.plots import color_for
from course_utils.plots import layernorm as P


def _labelled(fig, skip_off=True):
    for ax in fig.axes:
        if skip_off and not ax.axison:
            continue
        assert ax.get_xlabel() and ax.get_ylabel(), ax.get_title()


def test_axes_cubes_shade_one_set_per_method_in_its_colour():
    fig = P.plot_axes_cubes(n=3, c=4, groups=2)
    assert [ax.get_title() for ax in fig.axes] == ["BatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm (2 groups)"]
    shaded = []
    for ax, name in zip(fig.axes, ("BatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm"), strict=True):
        colour = color_for(name)
        count = sum(1 for p in ax.patches if p.get_facecolor()[:3] == tuple(int(colour[i:i + 2], 16) / 255
                                                                            for i in (1, 3, 5)))
        shaded.append(count // 3)  # three visible faces per column
    assert shaded == [3, 4, 1, 2]  # BN: N columns; LN: C; IN: 1; GN: C / groups


def test_sweep_sequence_and_transformer_figures_are_labelled():
    sweep = E.batch_size_sweep(norms=("BatchNorm", "LayerNorm"), batch_sizes=(32, 2), seeds=(0, 1), epochs=1)
    fig = P.plot_batch_size_sweep(sweep, E.WU_HE)
    _labelled(fig)
    assert len(fig.axes[0].collections) == 2  # one seed band per norm
    grads = E.depth_grad_norms(depths=(2, 3), seeds=(0, 1))
    _labelled(P.plot_grad_norms(grads, 3))
    wu = E.warmup_comparison(seeds=(0, 1), lrs=(0.01, 0.03), warmups=(0, 3), steps=12, depth=1, batch_size=4)
    _labelled(P.plot_warmup(wu))


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _full_draw(fig) -> np.ndarray:
    """The figure drawn by matplotlib from scratch (no panel, no cached pixels)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return _pixels(buffer.getvalue())


def _close_to_full_draw(panel, tolerance: int) -> None:
    # Pasted pixels (texts, borders) blend a little differently at glyph edges; anything misplaced
    # (flipped, shifted, missing) differs in thousands of pixels.
    differs = np.abs(_pixels(panel.png()) - _full_draw(panel.figure)).sum(axis=-1) > 0
    assert differs.sum() < tolerance, differs.sum()


AXES_SETTINGS = [("layer", 2), ("group", 4), ("group", 4), ("batch", 1), ("instance", 2), ("group", 1)]


def _stat_groups(x, method, groups):
    labels = E.stat_groups(method, x.shape, groups)
    return labels, E.normalize_by_groups(x, labels)[1]


def test_stat_groups_panel_reused_renders_like_a_fresh_one_and_like_a_full_draw():
    x = np.round(np.random.default_rng(0).normal(1.0, 2.0, (2, 4, 1, 3)), 1)
    panel = P.StatGroupsPanel(x)
    for method, groups in AXES_SETTINGS:
        labels, stats = _stat_groups(x, method, groups)
        title, note = f"{method} {groups}", f"note {groups}\nsecond line"
        panel.update(labels, stats, title, note)
        fresh = P.StatGroupsPanel(x)
        fresh.update(labels, stats, title, note)
        assert np.array_equal(_pixels(panel.png()), _pixels(fresh.png())), (method, groups)
        _close_to_full_draw(panel, tolerance=600)
        assert sum(t.get_text().startswith("mean ") for t in panel.figure.texts) == len(stats)
        assert sum(p.get_visible() for p in panel.squares) == min(len(stats), P.StatGroupsPanel.max_shown)


def test_stat_groups_panel_lists_more_than_eight_statistics_as_a_count():
    x = np.zeros((3, 4, 1, 2))
    labels, stats = _stat_groups(x, "instance", 1)  # 12 statistics
    fig = P.StatGroupsPanel(x).update(labels, stats)
    texts = [t.get_text() for t in fig.texts]
    assert "12 means/variances:" in texts and "... and 4 more" in texts
    with pytest.raises(ValueError, match="labels"):
        P.StatGroupsPanel(x).update(labels[:1], stats)


def test_grad_norm_panel_reused_renders_like_a_fresh_one_with_one_y_axis_for_all_depths():
    grads = E.depth_grad_norms(depths=(2, 3), seeds=(0, 1))
    panel = P.GradNormPanel(grads)
    ylims = set()
    for depth in (3, 2, 3, 2):
        panel.update(depth)
        fresh = P.GradNormPanel(grads)
        fresh.update(depth)
        assert np.array_equal(_pixels(panel.png()), _pixels(fresh.png())), depth
        _close_to_full_draw(panel, tolerance=20)
        assert panel.ax.get_xlim() == pytest.approx((1 - 0.05 * (depth - 1), depth + 0.05 * (depth - 1)))
        ylims.add(panel.ax.get_ylim())
    (ylim,) = ylims
    assert ylim[0] == 0 and ylim[1] >= max(v.max() for v in grads.norms.values())
    with pytest.raises(ValueError, match="depth"):
        panel.update(5)


def test_sequence_figure_shows_every_condition_and_the_scale_panel():
    seq = E.sequence_comparison(seeds=(0, 1), steps=3)
    fig = P.plot_sequence_results(seq)
    _labelled(fig)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["full length", "varying lengths", "scales"]
    # dots: BatchNorm and LayerNorm under 3 conditions, the masked BatchNorm only where there is padding
    assert len(fig.axes[0].collections) == 3 + 3 + 1
    assert len(fig.axes[1].get_lines()) == 1 + 2  # chance line + one line per norm run on scaled sequences
