"""course_utils: the tested helper package behind the NormCourse notebooks.

Modules are named by what they hold: ``nn`` (reference layers mirroring torch.nn), ``numpy_layers``
(hand-derived forward/backward pairs), ``gradcheck``, ``data``, ``train``, ``diagnostics``,
``experiments``, ``plots``, ``widgets`` and ``exercises``.
"""

__all__ = ["setup_notebook"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that `course_utils.numeric` (stdlib only) can run before torch is imported.
    if name == "setup_notebook":
        from .env import setup_notebook

        return setup_notebook
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
