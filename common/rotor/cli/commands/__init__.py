"""The commands, in the order ``rotor --help`` lists them. Each module has ``register(sub)``,
which adds its parser with ``run(args, context) -> exit code`` as default; none imports the
development kit before it runs."""

from rotor.cli.commands import check, demo, moto_server, new, rotate, rotators, stages

ALL = (demo, rotate, stages, rotators, moto_server, new, check)
