"""``rotor schedule``: attach, change or remove rotation for a selection of secrets, each
pointed at the deployed function of its rotator. Safe to re-run: secrets already configured as
asked are left alone."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from rotor.cli import batch, refusals
from rotor.cli.context import Context
from rotor.cli.errors import CliError, Exit
from rotor.cli.functions import Functions, function_option, short_name
from rotor.cli.options import dry_run_option
from rotor.cli.rotation_rules import Schedule, days, describe, duration, expression
from rotor.cli.rotator_choice import ROTATOR_TAG, NoRotator, read_rotator, rotator_option
from rotor.cli.selection import Secret, Selection, add_fleet_command

DESCRIPTION = """Attach, change or remove rotation for every selected secret. Each secret is
pointed at the deployed function of its rotator (from --stack's outputs and/or --function; the
rotator from --rotator, the secret's rotor:rotator tag, or its engine and masterarn). By default
RotateSecret is sent with RotateImmediately=false: AWS then only tests the configuration
(testSecret on a transient AWSPENDING version) and the first rotation comes on schedule;
--rotate-immediately also starts a rotation of every changed secret now (AWS's own default).
Secrets already configured as asked are left alone; --dry-run shows the plan and changes
nothing."""

IMMEDIATE_NOTE = (
    "--rotate-immediately: every secret scheduled or changed starts a rotation NOW "
    "(AWS's default); without it AWS only tests the configuration."
)
TEST_NOTE = (
    "RotateImmediately=false (rotor's default): AWS runs testSecret only; the first "
    "rotation comes on schedule. Pass --rotate-immediately to rotate now."
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_fleet_command(
        sub,
        "schedule",
        "attach, change or remove rotation for a selection of secrets",
        f"{DESCRIPTION} {batch.EXITS}",
    )
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--days", type=days, metavar="N", help="rotate every N days (AutomaticallyAfterDays)"
    )
    when.add_argument(
        "--schedule-expression",
        type=expression,
        metavar="EXPR",
        help="rate(N hours|days) (at least 4 hours) or cron(6 fields), in UTC",
    )
    when.add_argument(
        "--remove",
        action="store_true",
        help="turn rotation off (CancelRotateSecret); the secret and its versions stay",
    )
    parser.add_argument(
        "--duration",
        type=duration,
        metavar="Nh",
        help="the rotation window with --schedule-expression, 1h to 24h (AWS's default: the "
        "rest of the UTC day for days, 1h for hours)",
    )
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="rotor's deployed stack: its <Rotator>FunctionArn outputs name the functions",
    )
    parser.add_argument(
        "--function",
        type=function_option,
        action="append",
        default=[],
        metavar="ROTATOR=ARN",
        help="the function serving ROTATOR (repeat for several; overrides --stack)",
    )
    rotator_option(parser, local_only=False)
    parser.add_argument(
        "--rotate-immediately",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also start a rotation now of each secret scheduled or changed (default: no, "
        "AWS only tests the configuration; AWS's own default is yes)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="against moto on this machine: run AWS's configuration test (testSecret on a "
        "transient AWSPENDING copy) through each rotator's real handler from this checkout",
    )
    dry_run_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, context: Context) -> int:
    schedule = _schedule(args)
    selection = Selection.from_args(args)
    aws = context.need_aws()
    sm = aws.client("secretsmanager", local_command="schedule --local" if args.local else None)
    functions = Functions.from_options(
        aws.client("cloudformation") if args.stack else None, args.stack, args.function
    )
    tester = None
    if args.local and not args.dry_run:
        from rotor.cli.local_runs import LocalRuns

        tester = LocalRuns("schedule --local", sm, aws, context.verbose)

    def one(secret: Secret) -> batch.Item:
        item = _plan(sm, secret, args, functions, schedule)
        if item.result == "" and not args.dry_run:
            with batch.attempt(item):
                _apply(sm, secret, item, schedule, args.rotate_immediately, tester)
        elif item.result == "":
            item.result = batch.PLANNED
        return item

    done = batch.each(selection.resolve_some(sm), one)
    notes = [] if args.remove else [IMMEDIATE_NOTE if args.rotate_immediately else TEST_NOTE]
    extra = {
        "dry_run": args.dry_run,
        "local": args.local,
        "rotate_immediately": bool(args.rotate_immediately and not args.remove),
        "schedule": None if schedule is None else schedule.rules(),
    }
    return batch.report(
        context.out,
        done,
        [
            ("rotator", _rotator_cell),
            ("function", lambda i: short_name(i.fields["function"])),
            ("schedule", lambda i: f"{i.fields['current']} -> {i.fields['new']}"),
        ],
        extra,
        notes,
    )


def _rotator_cell(item: batch.Item) -> str:
    """The rotator, marked when the application's own value chose it (see docs/operations.md:
    pin it with --rotator or the tag where the value is not trusted)."""
    rotator = item.fields["rotator"] or "-"
    return f"{rotator} (value)" if item.fields["rotator_source"] == "value" else rotator


def _schedule(args: argparse.Namespace) -> Schedule | None:
    """The schedule asked for (None: --remove), refused before any request when AWS would."""
    if args.duration and not args.schedule_expression:
        raise CliError(
            Exit.USAGE,
            "--duration needs --schedule-expression (e.g. --schedule-expression "
            "'rate(30 days)' --duration 2h)",
        )
    if args.remove and (args.stack or args.function or args.rotator or args.rotate_immediately):
        raise CliError(Exit.USAGE, "--remove takes no function, rotator or --rotate-immediately")
    if args.local and args.rotate_immediately:
        raise CliError(
            Exit.USAGE,
            "--local runs AWS's configuration test (RotateImmediately=false); to rotate "
            "locally use `rotor rotate SECRET --rotator NAME`",
        )
    if args.remove:
        return None
    if not (args.stack or args.function):
        raise CliError(
            Exit.USAGE, "name the functions: --stack NAME (rotor's stack) or --function ROTATOR=ARN"
        )
    schedule = Schedule(args.days, args.schedule_expression, args.duration)
    try:
        schedule.check()
    except argparse.ArgumentTypeError as exc:
        raise CliError(Exit.USAGE, str(exc)) from None
    return schedule


def _plan(
    sm: Any,
    secret: Secret,
    args: argparse.Namespace,
    functions: Functions,
    schedule: Schedule | None,
) -> batch.Item:
    """One secret's row; its result is left empty when there is something to do."""
    current = Schedule.from_rules(secret.rules)
    item = batch.Item(
        secret.name,
        secret.arn,
        fields={
            "rotator": None,
            "rotator_source": None,
            "function": secret.rotation_lambda,
            "current": describe(current, secret.rotation_enabled),
            "new": describe(schedule),
        },
    )
    if schedule is None:
        item.action = "remove"
        if not secret.rotation_enabled:
            item.action, item.result = "none", batch.UNCHANGED
        elif secret.deleted is not None:
            item.fail(refusals.DELETED)
        return item
    if secret.deleted is not None:
        item.action = "change" if secret.rotation_enabled else "schedule"
        item.fail(refusals.DELETED)
        return item
    item.action = "change" if secret.rotation_enabled else "schedule"
    with batch.attempt(item):
        try:
            rotator = read_rotator(sm, secret.arn, secret.tags, args.rotator)
        except NoRotator as exc:
            item.fail(str(exc))
            return item
        item.fields["rotator"] = rotator
        item.fields["rotator_source"] = (
            "option" if args.rotator else "tag" if secret.tags.get(ROTATOR_TAG) else "value"
        )
        function = functions.for_rotator(rotator)
        item.fields["function"] = function
        if function is None:
            item.fail(
                f"no function serves rotator {rotator}: pass --function {rotator}=ARN, or a "
                "--stack that deploys it"
            )
            return item
        if (
            secret.rotation_enabled
            and secret.rotation_lambda == function
            and schedule.same_as(current)
        ):
            item.action, item.result = "none", batch.UNCHANGED
            return item
        blocked = refusals.in_progress(secret)
        if blocked is not None:
            item.fail(blocked)
        elif args.rotate_immediately:
            item.action += " + rotate now"
    return item


def _apply(
    sm: Any,
    secret: Secret,
    item: batch.Item,
    schedule: Schedule | None,
    immediately: bool,
    tester: Any,
) -> None:
    if schedule is None:
        sm.cancel_rotate_secret(SecretId=secret.arn)
        item.result = batch.DONE
        return
    function = str(item.fields["function"])
    if tester is not None:
        failed = tester.test_configuration(secret.arn, str(item.fields["rotator"]))
        tester.store(secret.arn, function, schedule.rules())
        if failed is not None:
            item.fail(
                f"configuration test failed: {failed}; the schedule is set, as AWS leaves it: "
                "fix the cause, or `rotor schedule --remove`"
            )
            return
        item.result, item.detail = batch.DONE, "configuration test passed (local)"
        return
    sm.rotate_secret(
        SecretId=secret.arn,
        ClientRequestToken=str(uuid.uuid4()),
        RotationLambdaARN=function,
        RotationRules=schedule.rules(),
        RotateImmediately=immediately,
    )
    item.result = batch.DONE
