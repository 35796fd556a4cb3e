"""The `pulse` command: worker, produce, rules check, import, demo."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from worker.errors import ConfigError, PulseError
from worker.logs import configure, get_logger, stdlib_config
from worker.rules import Rules, describe, load_rules
from worker.settings import Settings, load_settings

log = get_logger("cli")

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
FIRST_YEAR = 1970


def _settings_and_rules(rules_path: Path | None = None) -> tuple[Settings, Rules]:
    settings = load_settings()
    configure(settings.log_format, settings.log_level)
    return settings, load_rules(rules_path or settings.rules_path)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the stream processor until stopped."""
    import faust

    from worker.app import build_app
    from worker.kafka_io import ensure_topics

    settings, rules = _settings_and_rules()
    topics = (settings.events_topic, settings.dlq_topic, settings.touchpoints_topic)
    asyncio.run(
        ensure_topics(settings.kafka_bootstrap, topics, settings.topic_partitions)
    )
    app = build_app(settings, rules, Path(args.datadir))
    log.info(
        "worker_starting",
        kafka=settings.kafka_bootstrap,
        group_id=settings.group_id,
        rules=str(settings.rules_path),
        clock=settings.clock,
    )
    worker = faust.Worker(
        app,
        loglevel="warning",
        quiet=True,
        logging_config=stdlib_config(settings.log_format),
    )
    # The start-up spinner writes terminal codes into log files and JSON logs.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    """Publish a file of JSON lines to the input topic, with a progress bar."""
    from tqdm import tqdm

    from worker.kafka_io import ensure_topics, publish_lines, read_lines

    settings = load_settings()
    configure(settings.log_format, settings.log_level)
    path = input_file(Path(args.file))
    topic = args.topic or settings.events_topic
    try:
        total = sum(1 for _ in read_lines(path))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc

    async def run() -> None:
        await ensure_topics(
            settings.kafka_bootstrap, [topic], settings.topic_partitions
        )
        with tqdm(
            total=total,
            unit="ev",
            desc=f"-> {topic}",
            file=sys.stderr,
            disable=args.quiet,
        ) as bar:
            done = await publish_lines(
                settings.kafka_bootstrap, topic, read_lines(path), bar.update
            )
        log.info(
            "file_published",
            file=str(path),
            topic=topic,
            records=done.records,
            without_account=done.without_key,
        )

    asyncio.run(run())
    return 0


def input_file(path: Path) -> Path:
    """`path` if it is a file; `ConfigError` saying what it is otherwise."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    return path


def cmd_rules_check(args: argparse.Namespace) -> int:
    """Validate a rules file and print what it means."""
    path = Path(args.path) if args.path else load_settings().rules_path
    rules = load_rules(path)
    print(f"{path}: ok")
    print(describe(rules))
    return 0


def cmd_import_kddcup(args: argparse.Namespace) -> int:
    """Turn a KDD Cup 2015 daily-count file into time-ordered event envelopes."""
    from worker.kddcup import import_file

    source = Path(args.file)
    dest = Path(args.output) if args.output else source.with_suffix(".events.jsonl")
    try:
        summary = import_file(source, dest)
    except OSError as exc:
        # Reading errors are InputErrors already; this is the output side.
        raise PulseError(f"{dest}: cannot write: {exc.strerror or exc}") from exc
    print(
        f"{source} -> {dest}: {summary.events} events from {summary.rows} rows, "
        f"{summary.enrollments} enrollments"
    )
    return 0


def parse_day(text: str) -> date:
    """A `--day` value: a calendar date written YYYY-MM-DD, 1970 or later."""
    if not _DAY.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a calendar date ({exc})"
        ) from None
    if day.year < FIRST_YEAR:
        raise argparse.ArgumentTypeError(f"{text!r} is before {FIRST_YEAR}")
    return day


def cmd_account(args: argparse.Namespace) -> int:
    """Print an account's DAU, MAU, stickiness and users per tier from state."""
    from worker.app import build_store
    from worker.metrics import account_summary
    from worker.report import account_lines
    from worker.tiers import day_of

    settings, rules = _settings_and_rules()

    async def run() -> list[str]:
        store = build_store(settings, rules)
        try:
            if args.account not in await store.accounts():
                return [f"No activity is recorded for account {args.account}."]
            if args.day:
                day = args.day.toordinal()
            elif settings.clock == "event" and (stored := await store.clock()):
                day = day_of(datetime.fromtimestamp(stored, UTC))
            else:
                day = day_of(datetime.now(UTC))
            return account_lines(await account_summary(store, rules, args.account, day))
        finally:
            await store.client.aclose()

    print("\n".join(asyncio.run(run())))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job end to end and print the report."""
    from worker.demo import run_demo

    return run_demo(Path(args.data) if args.data else None, Path(args.out))


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    top = argparse.ArgumentParser(prog="pulse", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help=cmd_worker.__doc__)
    worker.add_argument(
        "--datadir", default="var/faust", help="faust's local data folder"
    )
    worker.set_defaults(func=cmd_worker)

    produce = sub.add_parser("produce", help=cmd_produce.__doc__)
    produce.add_argument("file")
    produce.add_argument("--topic", help="defaults to PULSE_EVENTS_TOPIC")
    produce.add_argument("--quiet", action="store_true", help="no progress bar")
    produce.set_defaults(func=cmd_produce)

    rules = sub.add_parser("rules", help="work with rules files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help=cmd_rules_check.__doc__)
    check.add_argument("path", nargs="?", help="defaults to PULSE_RULES_PATH")
    check.set_defaults(func=cmd_rules_check)

    imp = sub.add_parser("import", help="convert a public data set to event envelopes")
    imp_sub = imp.add_subparsers(dest="format", required=True)
    kdd = imp_sub.add_parser("kddcup", help=cmd_import_kddcup.__doc__)
    kdd.add_argument("file")
    kdd.add_argument(
        "-o", "--output", help="JSON lines out (default: FILE.events.jsonl)"
    )
    kdd.set_defaults(func=cmd_import_kddcup)

    account = sub.add_parser("account", help=cmd_account.__doc__)
    account.add_argument("account")
    account.add_argument(
        "--day",
        type=parse_day,
        help="YYYY-MM-DD (default: today, or the event clock)",
    )
    account.set_defaults(func=cmd_account)

    demo = sub.add_parser("demo", help=cmd_demo.__doc__)
    demo.add_argument(
        "--data", help="KDD Cup 2015 daily file (default: PULSE_DEMO_DATA)"
    )
    demo.add_argument("--out", default="var/demo", help="folder for the demo's files")
    demo.set_defaults(func=cmd_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pulse` console script."""
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except PulseError as exc:
        print(f"pulse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
