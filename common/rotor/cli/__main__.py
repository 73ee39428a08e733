"""``python -m rotor.cli``, as the ``rotor`` console script."""

from rotor.cli.app import main

raise SystemExit(main())
