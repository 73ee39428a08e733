"""What a command gets besides its arguments: where to print, and how to reach AWS."""

from __future__ import annotations

from dataclasses import dataclass

from rotor.cli.aws import Aws
from rotor.cli.output import Output


@dataclass
class Context:
    out: Output
    verbose: bool  # the handlers' logs
    debug: bool
    aws: Aws | None = None  # for commands taking the AWS options

    def need_aws(self) -> Aws:
        if self.aws is None:
            raise RuntimeError("this command was registered without the AWS options")
        return self.aws
