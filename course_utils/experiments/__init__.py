"""Experiments behind the notebooks' claims: pure functions returning numbers (tested in tests/,
asserted in notebooks), one module per topic (``experiments.scales``, ``experiments.depth``,
``experiments.dropout``, ...)."""
