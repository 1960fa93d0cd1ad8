"""Every explorer is in the benchmark table (make bench), so its latency budget is reported."""

import inspect

import course_utils.widgets as widgets


def test_every_build_function_is_benchmarked():
    builders = set()
    for module in widgets.import_explorer_modules():
        builders |= {f for name, f in inspect.getmembers(module, inspect.isfunction)
                     if name.startswith("build_") and f.__module__ == module.__name__}
    assert builders, "no explorers found"
    benchmarked = {b.build for b in widgets.BENCHMARKS}
    missing = sorted(f.__qualname__ for f in builders - benchmarked)
    assert not missing, f"explorers missing from course_utils.widgets.BENCHMARKS: {missing}"

