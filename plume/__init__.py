"""The ``plume`` command line and the composition root that wires the parts together.

Nothing imports :mod:`plume`; it imports everything else.
"""

__version__ = "0.1.0"
