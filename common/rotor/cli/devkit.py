"""The development kit, imported only by the commands that need it.

``pip install 'rotor[cli]'`` gives the operator commands; the local ones (demo, the harness,
moto, the scaffold) need the dev extras, and say so in one line when they are missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rotor.cli.errors import CliError, Exit

INSTALL = "pip install 'rotor[dev]'"


def load(command: str, module: str, *needs: str) -> ModuleType:
    """Import ``module`` (and check ``needs``, imported later by it) for ``rotor command``."""
    for name in (*needs, module):
        try:
            loaded = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise CliError(
                Exit.MISSING,
                f"`rotor {command}` needs the development kit, which "
                f"is not installed here (no module {exc.name!r}): "
                f"{INSTALL}",
            ) from exc
    return loaded
