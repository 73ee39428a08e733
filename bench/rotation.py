"""Measure rotor's rotations: wall time, Secrets Manager calls, database connections, import time.

    .venv/bin/python bench/rotation.py [--rotations 20] [--cold 5]

The rotor-only short form of ``bench/compare.py`` (which ``make bench`` runs, with AWS's
samples beside rotor when given ``--reference``): the rotators' real handlers from the layer
``layer/build.py`` builds, against private PostgreSQL and MariaDB servers and a moto server on
127.0.0.1. Prints one JSON object per rotator. Numbers are for comparison on the same machine,
not absolute.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rotations", type=int, default=20, help="warm rotations per rotator")
    parser.add_argument("--cold", type=int, default=5, help="cold rotations per rotator")
    options = parser.parse_args()
    args = argparse.ArgumentParser()
    compare.add_arguments(args)
    settings = args.parse_args(["--warm", str(options.rotations), "--cold", str(options.cold)])

    def single(values: list[int]) -> int | list[int]:
        return values[0] if len(values) == 1 else values

    for row in compare.run(settings)["rows"]:
        warm, cold = row["warm"], row["cold"]
        print(
            json.dumps(
                {
                    "rotator": row["rotator"],
                    "rotations": warm["rotations"],
                    "wall_ms_median": warm["wall_ms"]["median"],
                    "wall_ms_p90": warm["wall_ms"]["p90"],
                    "cold_ms_median": cold["wall_ms"]["median"],
                    "secretsmanager_calls": cold["sm_calls"],
                    "db_connections": single(cold["db_connections"]),
                    "handler_import_ms": cold["import_ms"]["median"],
                }
            )
        )


if __name__ == "__main__":
    main()
