"""The ``streamrec`` command: one entry point for every process (api, stream, train, replay)."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ingest.errors import StreamrecError
from ingest.settings import Settings, load_settings

logger = logging.getLogger("streamrec")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_LOG_FORMAT = "%(levelname)s %(name)s %(message)s"
JSON_LOG_FIELDS = {"levelname": "level", "name": "logger"}

DESCRIPTION = """\
streamrec: real-time recommendations. Watch events flow through Kafka into the stream worker,
which keeps per-user features in Redis; the API folds each user's latest history into an
implicit ALS model at request time. Every setting is an environment variable STREAMREC_<NAME>
(see README.md); options given here override them."""


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the HTTP API under gunicorn."""
    from api.server import serve

    serve(settings)
    return 0


def cmd_stream(settings: Settings, args: argparse.Namespace) -> int:
    """Run the stream worker until SIGINT/SIGTERM."""
    from stream.worker import run_worker

    run_worker(settings)
    return 0


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    """Retrain from the features in Redis: once, or whenever due (interval / new events)."""
    from recommender.lifecycle import redis_training_lock, retrain_locked
    from recommender.trainer import train_forever
    from stream.redis_store import redis_feature_store

    overrides = {
        "train_interval_seconds": args.interval,
        "retrain_after_events": args.after_events,
    }
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    store, lock = redis_feature_store(settings), redis_training_lock(settings)
    if settings.train_interval_seconds > 0 or settings.retrain_after_events > 0:
        train_forever(settings, store, lock)
        return 0
    result = retrain_locked(settings, store, lock, force=args.force, show_progress=not args.quiet)
    print(
        json.dumps(
            {
                "status": result.status,
                "model_version": result.model_version,
                "metrics": result.metrics,
                "model_dir": str(settings.model_dir),
            }
        )
    )
    return 0 if result.status != "skipped" else 1


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Publish events from a file (or generated ones) to the events topic."""
    from ingest.publisher import kafka_publisher
    from ingest.replay import replay
    from ingest.sources import generate_events, read_interactions

    if args.generate:
        events = generate_events(n_events=args.generate, seed=settings.random_seed)
        total: int | None = args.generate
    elif args.path:
        events = read_interactions(Path(args.path), args.format)
        total = None
    else:
        raise StreamrecError("give an interaction file PATH or --generate N")
    if args.limit:
        events = itertools.islice(events, args.limit)
        total = min(total or args.limit, args.limit)
    publisher = kafka_publisher(settings)
    try:
        sent = replay(events, publisher, args.rate, total=total, show_progress=not args.quiet)
    finally:
        publisher.close()
    print(json.dumps({"published": sent, "topic": settings.events_topic}))
    return 0


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    """Create the events and dead-letter topics if they are missing."""
    from ingest.topics import ensure_topics

    created = ensure_topics(settings)
    print(json.dumps({"created": created, "partitions": settings.topic_partitions}))
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """Print the stream worker's counters; --wait-processed N waits until applied+duplicates>=N."""
    from stream.redis_store import redis_feature_store

    store = redis_feature_store(settings)
    deadline = time.monotonic() + args.timeout
    stats = store.stats()
    while sum(stats.values()) < args.wait_processed and time.monotonic() < deadline:
        time.sleep(0.5)
        stats = store.stats()
    print(json.dumps({**stats, "processed": sum(stats.values())}))
    return 0 if sum(stats.values()) >= args.wait_processed else 1


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    """Evaluate the recommender offline on MovieLens 100K; write a report with plots."""
    from recommender.evaluation.data import DEFAULT_DATA_DIR
    from recommender.evaluation.run import (
        DEFAULT_OUT_DIR,
        QUICK_OUT_DIR,
        EvaluationRequest,
        evaluate,
    )

    request = EvaluationRequest(
        data_dir=Path(args.data) if args.data else DEFAULT_DATA_DIR,
        out_dir=Path(args.out) if args.out else QUICK_OUT_DIR if args.quick else DEFAULT_OUT_DIR,
        protocol=args.protocol,
        retrain_every=args.retrain_every,
        quick=args.quick,
        show_progress=not args.quiet,
        command=_evaluate_command(args),
    )
    report = evaluate(request, settings)
    print(json.dumps({"report": str(report), "results": str(report.with_name("results.json"))}))
    return 0


def _evaluate_command(args: argparse.Namespace) -> str:
    parts = ["streamrec evaluate", f"--protocol {args.protocol}"]
    if args.retrain_every:
        parts.append(f"--retrain-every {args.retrain_every}")
    if args.quick:
        parts.append("--quick")
    return " ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and option (``--help`` on each)."""
    parser = argparse.ArgumentParser(prog="streamrec", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = _adder(commands)
    add("api", cmd_api, "serve the HTTP API (gunicorn) on STREAMREC_API_HOST:STREAMREC_API_PORT")
    add("stream", cmd_stream, "consume watch events from Kafka into per-user features in Redis")
    train = add(
        "train",
        cmd_train,
        "train a model (ALS or BPR) from the features in Redis; publish it if it is not worse "
        "than the served one on a held-out check",
    )
    train.add_argument(
        "--interval", type=float, metavar="S", help="keep running: retrain every S seconds"
    )
    train.add_argument(
        "--after-events", type=int, metavar="N", help="keep running: retrain after N new events"
    )
    train.add_argument("--force", action="store_true", help="publish even if not better")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    replay = add("replay", cmd_replay, "publish interaction events to Kafka, with a progress bar")
    replay.add_argument(
        "path", nargs="?", help="MovieLens u.data or CSV user_id,item_id,timestamp[,event_type]"
    )
    replay.add_argument("--format", choices=["auto", "movielens", "csv"], default="auto")
    replay.add_argument(
        "--generate", type=int, metavar="N", help="publish N generated events instead"
    )
    replay.add_argument(
        "--rate", type=float, default=0.0, help="events per second (0: as fast as possible)"
    )
    replay.add_argument("--limit", type=int, help="stop after this many events")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    add("topics", cmd_topics, "create the events and dead-letter topics if missing")
    status = add("status", cmd_status, "print the stream worker's counters (applied, duplicates)")
    status.add_argument(
        "--wait-processed",
        type=int,
        default=0,
        metavar="N",
        help="wait until applied + duplicates reaches N (exit 1 on timeout)",
    )
    status.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait (default 600)"
    )
    _add_evaluate(add)
    return parser


EVALUATE_HELP = "evaluate offline on MovieLens 100K: static benchmark and streaming replay"
EVALUATE_DESCRIPTION = """\
Evaluate the recommender offline on MovieLens 100K through the code the API runs, and write
report.md, results.json and PNG plots. static: Microsoft Recommenders' benchmark (per-item 75/25
split, seed 42; P@10, R@10, nDCG@10, MAP) for a tuned ALS (small grid on a validation split of the
training part), BPR and most popular. prequential: train on the first half of the ratings by time,
replay the rest in order and count hit-rate@10 before each event for fold-in on every event, a
static model, periodic retraining and trending only. The full run takes about 10 minutes on 2
cores; --quick a few."""


def _add_evaluate(add: Callable[..., argparse.ArgumentParser]) -> None:
    evaluate = add("evaluate", cmd_evaluate, EVALUATE_HELP)
    evaluate.description = EVALUATE_DESCRIPTION
    evaluate.add_argument(
        "--data",
        metavar="DIR",
        help="folder holding ml-100k/ (default: ../shared/data next to the repository)",
    )
    evaluate.add_argument(
        "--out",
        metavar="DIR",
        help="where to write the report (default: recommender/evaluation/results; "
        "with --quick: var/evaluation-quick)",
    )
    evaluate.add_argument(
        "--protocol", choices=["static", "prequential", "all"], default="all", help="default: all"
    )
    evaluate.add_argument(
        "--retrain-every",
        type=_positive_int,
        metavar="N",
        help="prequential: retrain every N replayed events (default 10000; 2500 with --quick)",
    )
    evaluate.add_argument(
        "--quick",
        action="store_true",
        help="a few-minute run: smaller grid, replay 10,000 events",
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _adder(commands: argparse._SubParsersAction) -> Callable[..., argparse.ArgumentParser]:
    def add(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    return add


def log_formatter(log_format: str) -> logging.Formatter:
    """Return the formatter for log lines: text, or one JSON object per line."""
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        from recommender.clock import format_epoch

        class Formatter(JsonFormatter):
            # The same "time" as the API's access log and answers: RFC 3339, ms, "Z".
            def add_fields(
                self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
            ) -> None:
                super().add_fields(log_data, record, message)
                log_data["time"] = format_epoch(record.created)

        return Formatter(JSON_LOG_FORMAT, rename_fields=JSON_LOG_FIELDS, timestamp="time")
    return logging.Formatter(LOG_FORMAT)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one streamrec command; errors print one clear line and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        handler = logging.StreamHandler()
        handler.setFormatter(log_formatter(settings.log_format))
        logging.basicConfig(level=settings.log_level, handlers=[handler])
        # The Kafka clients narrate every connection at INFO; keep their warnings and errors.
        for noisy in ("kafka", "aiokafka"):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))
        return int(args.handler(settings, args))
    except StreamrecError as exc:
        print(f"streamrec {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
