"""course_utils: the tested helper package behind the NormCourse notebooks.

Modules are named by what they hold: ``nn`` (reference layers mirroring torch.nn), ``numpy_layers``
(hand-derived forward/backward pairs), ``gradcheck``, ``data``, ``train``, ``diagnostics``,
``experiments``, ``plots``, ``widgets`` and ``exercises``.
"""

from .env import setup_notebook

__all__ = ["setup_notebook"]
__version__ = "0.1.0"
