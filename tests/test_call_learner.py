"""course_utils.exercises.call_learner: every checker calls the learner's code through it."""

import time

import numpy as np
import pytest

from course_utils.exercises import ExerciseError, NotDoneYet, call_learner


def test_returns_the_result():
    assert call_learner(lambda x: x + 1, 1) == 2


def test_the_learner_gets_copies_so_the_originals_stay_untouched():
    x = np.ones(3)

    def mutate(a):
        a[:] = 0
        return a

    call_learner(mutate, x)
    assert x.tolist() == [1.0, 1.0, 1.0]


def test_not_implemented_means_not_done_yet():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(NotDoneYet, match="Not done yet: stub"):
        call_learner(stub, 1)


def test_other_errors_become_one_line_hints_naming_the_learners_line():
    def broken(x):
        return x @ np.ones(5)

    with pytest.raises(ExerciseError, match=r"broken raised ValueError: .*at line \d+: return x @ np.ones\(5\)"):
        call_learner(broken, np.ones(3))


def test_a_loop_that_never_ends_is_stopped_with_a_hint():
    def forever(x):
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # noqa: BLE001 - a learner's broad except must not swallow the time limit
                pass

    start = time.perf_counter()
    with pytest.raises(ExerciseError, match="did not return within 0.2 s"):
        call_learner(forever, 1, time_limit=0.2)
    assert time.perf_counter() - start < 5


def test_the_time_limit_is_removed_afterwards():
    import signal

    call_learner(lambda: 1, time_limit=0.5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_passing_the_result_instead_of_the_function_is_explained():
    with pytest.raises(ExerciseError, match="Pass the function itself"):
        call_learner(3)
