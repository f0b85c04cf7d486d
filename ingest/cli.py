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

from ingest.errors import StreamrecError
from ingest.settings import Settings, load_settings

logger = logging.getLogger("streamrec")

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
    """Train a model from the features in Redis, once or every --interval seconds."""
    from recommender.trainer import train_forever, train_once
    from stream.redis_store import redis_feature_store

    store = redis_feature_store(settings)
    interval = args.interval if args.interval is not None else settings.train_interval_seconds
    if interval > 0:
        train_forever(settings, store, interval)
        return 0
    model = train_once(settings, store, show_progress=not args.quiet)
    print(json.dumps({"model_version": model.version, "model_dir": str(settings.model_dir)}))
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and option (``--help`` on each)."""
    parser = argparse.ArgumentParser(prog="streamrec", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = _adder(commands)
    add("api", cmd_api, "serve the HTTP API (gunicorn) on STREAMREC_API_HOST:STREAMREC_API_PORT")
    add("stream", cmd_stream, "consume watch events from Kafka into per-user features in Redis")
    train = add("train", cmd_train, "train an ALS model from the features in Redis and publish it")
    train.add_argument("--interval", type=float, help="retrain every SECONDS (default: once)")
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
    return parser


def _adder(commands: argparse._SubParsersAction) -> Callable[..., argparse.ArgumentParser]:
    def add(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    return add


def main(argv: Sequence[str] | None = None) -> int:
    """Run one streamrec command; errors print one clear line and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # kafka-python narrates every connection at INFO; keep its warnings and errors only.
        logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.root.level))
        return int(args.handler(settings, args))
    except StreamrecError as exc:
        print(f"streamrec {args.command}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
