"""The `rotor` command: see and test rotations on this machine before deploying them.

The core (parsing, output, exit codes, errors, AWS clients) needs only ``rotor[cli]``; the
local commands import the development kit when they run. Conventions: docs/cli.md.
"""

from rotor.cli.app import main

__all__ = ["main"]
