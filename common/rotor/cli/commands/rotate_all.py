"""``rotor rotate-all``: rotate a selection of secrets now (an emergency rotation), paced
under Secrets Manager's quotas, each rotation followed to its end, with a report per secret.

Against AWS it calls RotateSecret and polls DescribeSecret; ``--local`` runs each rotation
through the local harness and the rotators' real handlers instead. Both use the same scheduler
(``rotor.cli.fleet_rotation``) and the same report.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from rotor.cli import devkit, lambda_env, local_handlers
from rotor.cli.context import Context
from rotor.cli.fleet_rotation import Cancellation, FleetRotation, Outcome, Polling, Result
from rotor.cli.options import dry_run_option, local_only, positive_int
from rotor.cli.rate_limit import TokenBucket
from rotor.cli.rotate_all_report import exit_error, plan_error, report, show_plan, show_run
from rotor.cli.rotation_plan import local_plan, service_plan
from rotor.cli.rotator_choice import read_rotator, rotator_option
from rotor.cli.selection import Secret, Selection, add_fleet_command
from rotor.cli.service_rotation import ServiceRotation
from rotor.cli.throttling import RetryingClient

COMMAND = "rotate-all"
POLL_RATE = 100.0  # DescribeSecret calls/s for all polls together: 1% of its 10,000/s quota
DESCRIPTION = """Rotate the selected secrets now, each with its own rotation function: an
emergency rotation of a fleet. Starts are paced by a client-side rate limit (--rate; Secrets
Manager allows RotateSecret 50/s and its writes 50/s in all, about three per rotation, so near
16 rotations/s per Region), at most --concurrency rotations are in flight, throttled calls are
retried with jittered backoff and slow the rate down. Each rotation's end is found by polling
DescribeSecret until its version holds AWSCURRENT. Secrets without a rotation function, with
rotation disabled, or with a rotation already in progress are refused and not touched.
Ctrl-C stops starting new rotations and reports those in flight (they go on in AWS); a second
Ctrl-C exits at once. Exit 0 when every secret rotated, 3 when some did not, 1 when none did
(a dry run: the same for what would be refused), 130 when interrupted."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_fleet_command(
        sub,
        "rotate-all",
        "rotate a selection of secrets now, paced",
        DESCRIPTION,
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=5.0,
        metavar="N",
        help="rotations started per second at most (default 5; Secrets Manager's quotas put "
        "the ceiling near 16/s per Region, shared with everything else in the account)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=10,
        metavar="N",
        help="rotations in flight at once at most (default 10)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=900.0,
        metavar="SECONDS",
        help="how long to follow one rotation before reporting it still in flight "
        "(default 900: 15 minutes)",
    )
    dry_run_option(parser)
    parser.add_argument(
        "--local",
        action="store_true",
        help="run each rotation here through the local harness and the rotators' real "
        "handlers, against moto on this machine (needs rotor[dev])",
    )
    rotator_option(parser, local_only=True)
    parser.set_defaults(run=run)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, not {text!r}")
    return value


def run(args: argparse.Namespace, context: Context) -> int:
    local_only(args, "rotate-all", "rotator")
    selection = Selection.from_args(args)
    local = _Local(args.rotator) if args.local else None  # the dev kit, before any call
    aws = context.need_aws()
    command = "rotate-all --local" if args.local else None
    sm = aws.client("secretsmanager", local_command=command)
    secrets = selection.resolve_some(sm)
    with ExitStack() as stack:
        if local is not None:
            stack.enter_context(lambda_env.environment(aws.handler_environment()))
            stack.enter_context(lambda_env.handler_logs(context.verbose))
            plan = local.plan(secrets, lambda s: read_rotator(sm, s.arn, s.tags, args.rotator))
        else:
            plan = service_plan(secrets)
        if args.dry_run:
            for outcome in plan:
                if outcome.result is Result.NOT_STARTED:
                    outcome.result = Result.PLANNED
            context.out.result(report(args, plan, None), lambda: show_plan(context.out, plan))
            refusal = plan_error(plan)
            if refusal is not None:
                raise refusal
            return 0
        starts, cancellation = TokenBucket(args.rate), Cancellation()
        paced = RetryingClient(
            aws.client("secretsmanager", local_command=command, max_attempts=0),
            wait=cancellation.wait,
            on_throttle=lambda _api: starts.slow_down(),
        )
        rotation = (
            local.rotation(paced)
            if local is not None
            else ServiceRotation(paced, TokenBucket(POLL_RATE), cancellation.wait)
        )
        with _progress(context, sum(o.result is Result.NOT_STARTED for o in plan)) as advance:
            engine = FleetRotation(
                rotation,
                starts,
                concurrency=args.concurrency,
                polling=Polling(timeout=args.timeout),
                new_token=lambda: str(uuid.uuid4()),
                on_done=advance,
                cancellation=cancellation,
            )
            done = engine.run(plan)
    doc = report(args, plan, done, paced)
    context.out.result(doc, lambda: show_run(context.out, done, doc["totals"]))
    error = exit_error(done)
    if error is not None:
        raise error
    return 0


class _Local:
    """The harness side of ``--local``: rotators by name, their handlers loaded once."""

    def __init__(self, rotator: str | None) -> None:
        self.harness = devkit.load(COMMAND, "rotor.local.harness")
        self.rotators = devkit.load(COMMAND, "rotor.local.rotators")
        self.rotator = rotator
        if rotator:
            local_handlers.handler_spec(COMMAND, rotator)  # refuses an unknown name

    def plan(self, secrets: list[Secret], choose: Callable[[Secret], str]) -> list[Outcome]:
        plan = local_plan(secrets, choose)
        for outcome in plan:
            if outcome.function and self.rotators.find(outcome.function) is None:
                outcome.result = Result.REFUSED
                outcome.reason = local_handlers.unknown_rotator(COMMAND, outcome.function)
        return plan

    def rotation(self, sm: Any) -> Any:
        from rotor.cli.commands.rotate import failure_reason
        from rotor.cli.local_rotation import LocalRotation

        harnesses: dict[str, Any] = {}

        def harness_for(name: str) -> Any:
            if name not in harnesses:
                spec = local_handlers.handler_spec(COMMAND, name)
                handler = local_handlers.load(COMMAND, spec)
                harnesses[name] = self.harness.Harness(sm, lambda_env.printing_to_stderr(handler))
            return harnesses[name]

        return LocalRotation(harness_for, failure_reason)


@contextmanager
def _progress(context: Context, total: int) -> Iterator[Callable[[Outcome], None]]:
    """A progress bar on stderr (table mode only); yields what advances it."""
    if not context.out.json:
        from rich.console import Console  # rich: part of rotor[cli], as tables need it

        console = Console(stderr=True)
    if context.out.json or not console.is_terminal:
        yield lambda _outcome: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "rotating",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("rotate-all", total=total)
        yield lambda _outcome: progress.advance(task)
