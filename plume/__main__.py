"""``python -m plume`` is the same as ``plume``."""

import sys

from plume.cli import main

sys.exit(main())
