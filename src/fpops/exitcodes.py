"""Process exit codes of the `fpops` command."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What `fpops` returns to its caller (cron, CI, a person's shell)."""

    OK = 0
    FAILED = 1  # at least one task failed on at least one host
    UNREACHABLE = 2  # at least one host could not be reached
    REFUSED = 3  # the run was refused (lock held, confirmation declined)
    BAD_INPUT = 4  # unknown environment, bad option, missing file
    INTERRUPTED = 130  # Ctrl-C: the run was cancelled
