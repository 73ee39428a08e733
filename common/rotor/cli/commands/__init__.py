"""The commands, in the order ``rotor --help`` lists them. Each module has ``register(sub)``,
which adds its parser with ``run(args, context) -> exit code`` as default; none imports the
development kit before it runs."""

from rotor.cli.commands import (
    cancel,
    check,
    demo,
    moto_server,
    new,
    resume,
    rotate,
    rotate_all,
    rotators,
    schedule,
    stages,
    status,
)

ALL = (
    demo,
    rotate,
    stages,
    rotators,
    moto_server,
    new,
    schedule,
    check,
    status,
    rotate_all,
    resume,
    cancel,
)
