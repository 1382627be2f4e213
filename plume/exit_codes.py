"""Exit codes of every ``plume`` command."""

EXIT_OK = 0
"""The work was done."""
EXIT_FAILED = 1
"""The work failed: bad input, a file that cannot be read or written, a check that did not pass."""
EXIT_USAGE = 2
"""The command line itself was wrong."""
