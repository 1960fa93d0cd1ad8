import pytest

from course_utils import nn as course_nn
from course_utils.exercises import ExerciseError
from course_utils.exercises.basics import check_batchnorm_state


def test_reference_solution_passes(capsys):
    bn = course_nn.BatchNorm1d(4)
    check_batchnorm_state(sorted(n for n, _ in bn.named_parameters()), sorted(n for n, _ in bn.named_buffers()))
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    "params, buffers, hint",
    [
        (["weight"], ["running_mean", "running_var", "num_batches_tracked"], "Learnable parameters"),
        (["weight", "bias"], ["running_mean", "running_var"], "Buffers"),
        (["gamma", "beta"], ["running_mean", "running_var", "num_batches_tracked"], "'weight'"),
        ("weight bias", [], "list of names"),
    ],
)
def test_wrong_answers_fail_with_a_hint(params, buffers, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_batchnorm_state(params, buffers)
