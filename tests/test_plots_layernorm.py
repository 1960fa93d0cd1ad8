"""Figures of notebook 04: labelled axes, course colours, seed spread."""

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
    wu = E.warmup_comparison(seeds=(0, 1), steps=12, warmup_steps=3, depth=1, batch_size=4)
    _labelled(P.plot_warmup(wu))
