"""What ``rotor rotate-all`` reports: the JSON document (its shape: docs/operations.md, "rotor
rotate-all"), the tables for people, and the exit code the outcomes mean."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from rotor.cli.errors import CliError, Exit
from rotor.cli.fleet_rotation import Outcome, Result, Run
from rotor.cli.output import Output
from rotor.cli.throttling import RetryingClient

SHOWN = {r: r.value.replace("_", " ") for r in Result}  # "in flight", "not started"


def report(
    args: argparse.Namespace,
    plan: Sequence[Outcome],
    run: Run | None,
    client: RetryingClient | None = None,
) -> dict[str, Any]:
    """``run`` None: the dry run's plan."""
    totals: dict[str, Any] = {"selected": len(plan)}
    totals.update({r.value: sum(o.result is r for o in plan) for r in Result if _counted(r, run)})
    if run is not None and client is not None:
        rotated = totals[Result.ROTATED.value]
        totals.update(
            started=sum(o.token is not None for o in plan),
            elapsed_seconds=round(run.elapsed, 3),
            rotations_per_second=round(rotated / run.elapsed, 3) if run.elapsed > 0 else None,
            throttled_calls=sum(client.throttles.values()),
            calls=dict(sorted(client.calls.items())),
            throttled=dict(sorted(client.throttles.items())),
        )
    return {
        "dry_run": run is None,
        "local": bool(args.local),
        "interrupted": bool(run and run.interrupted),
        "settings": {
            "rate": args.rate,
            "concurrency": args.concurrency,
            "timeout_seconds": args.timeout,
        },
        "secrets": [
            {
                "secret": o.secret.name,
                "name": o.secret.name,  # as 0.2.0 printed it; "secret" as every fleet command
                "arn": o.secret.arn,
                "function": o.function,
                "result": o.result.value,
                "token": o.token,
                "seconds": o.seconds,
                "reason": o.reason,
            }
            for o in plan
        ],
        "totals": totals,
    }


def _counted(result: Result, run: Run | None) -> bool:
    """A dry run counts planned and refused; a run, every result but planned."""
    if run is None:
        return result in (Result.PLANNED, Result.REFUSED)
    return result is not Result.PLANNED


def show_plan(out: Output, plan: Sequence[Outcome]) -> None:
    out.table(
        ("secret", "plan", "function", "reason"),
        (
            (
                o.secret.name,
                "refused" if o.result is Result.REFUSED else "rotate",
                (o.function or "-").rpartition(":function:")[2],  # the ARN is in the JSON
                o.reason or "",
            )
            for o in plan
        ),
    )
    refused = sum(o.result is Result.REFUSED for o in plan)
    out.line(f"dry run: {len(plan) - refused} would rotate, {refused} refused; nothing changed")


def show_run(out: Output, run: Run, totals: Mapping[str, Any]) -> None:
    out.table(
        ("secret", "result", "seconds", "reason"),
        (
            (
                o.secret.name,
                SHOWN[o.result],
                "" if o.seconds is None else f"{o.seconds:.1f}",
                o.reason or "",
            )
            for o in run.outcomes
        ),
    )
    counts = ", ".join(f"{totals[r.value]} {SHOWN[r]}" for r in Result if totals.get(r.value))
    rate = totals.get("rotations_per_second")
    out.line(
        f"{counts} of {totals['selected']} in {totals['elapsed_seconds']:.1f} s"
        + (f" ({rate:.1f} rotations/s)" if rate else "")
        + f"; throttled calls: {totals['throttled_calls']}"
    )


def exit_error(run: Run) -> CliError | None:
    """None when every secret rotated; else the code and line the outcomes mean."""
    rotated, in_flight = run.count(Result.ROTATED), run.count(Result.IN_FLIGHT)
    not_rotated = len(run.outcomes) - rotated
    if run.interrupted:
        return CliError(
            Exit.INTERRUPTED,
            f"interrupted: {rotated} rotated, {in_flight} in flight (they go on), "
            f"{run.count(Result.NOT_STARTED)} not started",
        )
    if not_rotated == 0:
        return None
    if rotated == 0 and in_flight == 0:
        return CliError(
            Exit.ROTATION_FAILED,
            f"no secret rotated ({not_rotated} failed or refused): see why in the report",
        )
    return CliError(
        Exit.PARTIAL,
        f"{not_rotated} of {len(run.outcomes)} secrets not rotated: see why in the report",
    )


def plan_error(plan: Sequence[Outcome]) -> CliError | None:
    """A dry run's exit, as a run's would be: 3 when some would be refused, 1 when all."""
    refused = sum(o.result is Result.REFUSED for o in plan)
    if refused == 0:
        return None
    if refused == len(plan):
        return CliError(
            Exit.ROTATION_FAILED,
            f"dry run: no secret would rotate ({refused} refused): see why in the plan",
        )
    return CliError(
        Exit.PARTIAL,
        f"dry run: {refused} of {len(plan)} secrets would be refused: see why in the plan",
    )
