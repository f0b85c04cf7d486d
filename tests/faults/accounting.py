"""Full event accounting: what Kafka accepted against what Redis and the dead-letter topic hold.

    accounting = account("worker_kills", settings, client, sent)   # sent: traffic.publish(...)
    print(accounting.summary())
    accounting.write(duration_seconds=..., faults={"worker SIGKILL": 10})  # .run/faults/*.json
    accounting.assert_clean()

The books balance when ``accepted = applied_once + redelivered + dead_lettered``:

- ``accepted``: messages Kafka acknowledged (acks=all) — the only ones anything is owed for;
- ``applied_once``: distinct valid events (by user_id, event_id) whose two parts are both in
  Redis: the per-user marker key and the membership in the global hourly dedup set;
- ``redelivered``: accepted messages repeating an event already accepted (the worker must skip
  them: they are the dedup proof, not a loss);
- ``dead_lettered``: invalid messages found in the DLQ with the expected reason code, matched
  by their ``dlq.source.partition`` / ``dlq.source.offset`` headers.

``lost`` counts valid events not applied plus invalid messages missing from the DLQ;
``duplicated`` counts events whose global part was applied more than once (the worker's
``applied`` counter beyond ``applied_once``), valid events that went to the DLQ and invalid ones
that were applied. ``features_equal`` compares every user's items and history, item popularity
and trending with the state one clean run produces (the same accepted events, in publish order,
through the in-memory store — the reference the scale-out test uses). ``dlq_copies`` counts
extra copies of one dead letter: the DLQ is written before the offsets are committed, so a
worker killed in between writes that dead letter again after restart. Consumers of the DLQ
deduplicate by the source headers; the copies are reported, not hidden. ``dlq_truncated``
counts dead letters over 1 MB written cut to their first 64 KiB (``dlq.value.truncated_from``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from ingest.schema import decode_event
from ingest.settings import Settings
from stream import keys
from stream.features import feature_update
from stream.redis_store import RedisFeatureStore
from stream.store import InMemoryFeatureStore
from tests.faults.traffic import VALID, DeadLetterRecord, Sent, read_dead_letters

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("FAULTS_RESULTS_DIR", REPO / ".run" / "faults"))
ALL = 10**7
PIPELINE_CHUNK = 5000


@dataclass
class Accounting:
    """The books of one scenario run (see the module docstring for each figure)."""

    scenario: str
    accepted: int
    redelivered: int
    valid_events: int
    invalid_messages: int
    applied_once: int
    dead_lettered: int
    lost: int
    duplicated: int
    wrong_reason: int
    dlq_copies: int
    dlq_truncated: int  # dead letters too large for the DLQ, written cut (size in a header)
    features_equal: bool
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        """Whether accepted = applied once + redelivered (skipped) + dead-lettered."""
        return self.accepted == self.applied_once + self.redelivered + self.dead_lettered

    @property
    def clean(self) -> bool:
        """Whether nothing was lost, doubled or misfiled and the features match a clean run."""
        return (
            self.balanced
            and self.lost == 0
            and self.duplicated == 0
            and self.wrong_reason == 0
            and self.features_equal
        )

    def summary(self) -> str:
        """A printable block: the books, and what is wrong if anything is."""
        lines = [
            f"== accounting: {self.scenario} ==",
            f"accepted by Kafka     {self.accepted:>9,}",
            f"  applied exactly once{self.applied_once:>9,}  (of {self.valid_events:,} events)",
            f"  redelivered, skipped{self.redelivered:>9,}",
            f"  dead-lettered       {self.dead_lettered:>9,}  (of {self.invalid_messages:,})",
            f"lost                  {self.lost:>9,}",
            f"counted twice         {self.duplicated:>9,}",
            f"wrong DLQ reason      {self.wrong_reason:>9,}",
            f"DLQ extra copies      {self.dlq_copies:>9,}  (same source offset, at-least-once)",
            f"DLQ cut to fit        {self.dlq_truncated:>9,}  (over 1 MB, first 64 KiB kept)",
            f"features = clean run  {'yes' if self.features_equal else 'NO':>9}",
            f"balanced              {'yes' if self.balanced else 'NO':>9}",
        ]
        return "\n".join(lines + [f"problem: {problem}" for problem in self.problems[:20]])

    def write(self, duration_seconds: float, faults: dict[str, int], **extra: Any) -> Path:
        """Write this run as JSON to RESULTS_DIR/<scenario>.json (scripts/faults_report.py)."""
        books = {**asdict(self), "problems": self.problems[:50], "balanced": self.balanced}
        del books["scenario"]
        return write_result(self.scenario, duration_seconds, faults, self.clean, **books, **extra)

    def assert_clean(self) -> None:
        """Fail the test with the summary unless the books are clean."""
        if not self.clean:
            pytest.fail(self.summary(), pytrace=False)


def write_result(
    scenario: str, duration_seconds: float, faults: dict[str, int], clean: bool, **fields: Any
) -> Path:
    """Write one scenario's outcome as JSON to RESULTS_DIR/<scenario>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "scenario": scenario,
        "clean": clean,
        "duration_seconds": round(duration_seconds, 1),
        "faults": faults,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **fields,
    }
    path = RESULTS_DIR / f"{scenario}.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def machine() -> str:
    """A one-line description of the machine the run happened on."""
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def account(
    scenario: str, settings: Settings, client: redis.Redis, sent: Sequence[Sent]
) -> Accounting:
    """Compare what Kafka accepted with the Redis features and the DLQ (call once drained)."""
    store = RedisFeatureStore(
        client,
        settings.key_prefix,
        settings.history_length,
        trending_half_life_seconds=settings.trending_half_life_seconds,
    )
    valid, invalid, redelivered = _sort_out(sent)
    applied = _applied_events(client, settings.key_prefix, valid)
    dead = read_dead_letters(settings)
    problems: list[str] = []
    matched, wrong, copies, misfiled = _match_dead_letters(dead, invalid, problems)
    counter = store.stats()["applied"]
    expected = expected_store(list(valid.values()), store.history_length, store.half_life_ms)
    features_equal = _features_equal(store, expected, problems)
    lost = (len(valid) - len(applied)) + (len(invalid) - matched - wrong)
    if len(valid) != len(applied):
        problems.append(f"{len(valid) - len(applied)} valid events not applied")
    if counter != len(applied):
        problems.append(f"the worker counted {counter} events applied, Redis holds {len(applied)}")
    duplicated = max(0, counter - len(applied)) + misfiled
    return Accounting(
        scenario=scenario,
        accepted=len(sent),
        redelivered=redelivered,
        valid_events=len(valid),
        invalid_messages=len(invalid),
        applied_once=len(applied),
        dead_lettered=matched,
        lost=lost,
        duplicated=duplicated,
        wrong_reason=wrong,
        dlq_copies=copies,
        dlq_truncated=sum(1 for d in dead if d.truncated_from is not None),
        features_equal=features_equal,
        problems=problems,
    )


def _sort_out(
    sent: Sequence[Sent],
) -> tuple[dict[tuple[str, str], Any], dict[tuple[int, int], Sent], int]:
    """Split acknowledged messages: first occurrences of valid events, invalid ones, repeats."""
    valid: dict[tuple[str, str], Any] = {}
    invalid: dict[tuple[int, int], Sent] = {}
    redelivered = 0
    for message in sent:
        if message.message.expect != VALID:
            invalid[(message.partition, message.offset)] = message
            continue
        assert message.message.value is not None
        event = decode_event(message.message.value)
        if (event.user_id, event.event_id) in valid:
            redelivered += 1
        else:
            valid[(event.user_id, event.event_id)] = event
    return valid, invalid, redelivered


def _applied_events(
    client: redis.Redis, prefix: str, valid: dict[tuple[str, str], Any]
) -> set[tuple[str, str]]:
    """The valid events whose per-user marker and global dedup membership are both in Redis."""
    found: set[tuple[str, str]] = set()
    events = list(valid.values())
    for start in range(0, len(events), PIPELINE_CHUNK):
        chunk = events[start : start + PIPELINE_CHUNK]
        pipe = client.pipeline(transaction=False)
        for event in chunk:
            pipe.exists(keys.event_seen_key(prefix, event.user_id, event.event_id))
            pipe.sismember(
                keys.global_seen_key(prefix, event.timestamp),
                keys.global_seen_member(event.user_id, event.event_id),
            )
        results = pipe.execute()
        for event, user_part, global_part in zip(chunk, results[::2], results[1::2], strict=True):
            if user_part and global_part:
                found.add((event.user_id, event.event_id))
    return found


def _match_dead_letters(
    dead: list[DeadLetterRecord], invalid: dict[tuple[int, int], Sent], problems: list[str]
) -> tuple[int, int, int, int]:
    """Return (matched with the right reason, wrong reason, extra copies, valid ones misfiled)."""
    copies = Counter((d.source_partition, d.source_offset) for d in dead)
    matched = wrong = misfiled = 0
    for (partition, offset), record in {
        (d.source_partition, d.source_offset): d for d in dead
    }.items():
        expected = invalid.get((partition, offset))
        if expected is None:
            misfiled += 1
            problems.append(f"unexpected dead letter from {partition}@{offset}: {record.reason}")
        elif record.reason_code == expected.message.expect and _same_value(record, expected):
            matched += 1
        else:
            wrong += 1
            problems.append(
                f"{partition}@{offset}: expected {expected.message.expect}, "
                f"got {record.reason_code} ({record.reason[:120]})"
            )
    missing = len(invalid) - matched - wrong
    if missing:
        problems.append(f"{missing} invalid messages missing from the DLQ")
    return matched, wrong, sum(n - 1 for n in copies.values()), misfiled


def _same_value(record: DeadLetterRecord, expected: Sent) -> bool:
    """Whether the DLQ holds the original value (or, if noted as cut to fit, its beginning)."""
    original = expected.message.value
    if record.truncated_from is None or original is None or record.value is None:
        return record.value == original
    return record.truncated_from == len(original) and original.startswith(record.value)


def expected_store(
    events: Sequence[Any], history_length: int, half_life_ms: float
) -> InMemoryFeatureStore:
    """The features one clean run of these events (in publish order) leaves behind."""
    store = InMemoryFeatureStore(history_length, trending_half_life_seconds=half_life_ms / 1000)
    store.apply([feature_update(event) for event in events])
    return store


def _features_equal(
    store: RedisFeatureStore, expected: InMemoryFeatureStore, problems: list[str]
) -> bool:
    """Compare every feature in Redis with those of a clean run; note the first differences."""
    actual_items, expected_items = dict(store.iter_user_items()), dict(expected.iter_user_items())
    differing = [
        user_id
        for user_id in expected_items.keys() | actual_items.keys()
        if not _close(expected_items.get(user_id), actual_items.get(user_id))
    ]
    problems += [f"user_items differ for {u!r}" for u in sorted(differing)[:10]]
    popular_equal = _close(dict(store.popular_items(ALL)), dict(expected.popular_items(ALL)))
    if not popular_equal:
        problems.append("item popularity differs")
    trending_equal = _close(dict(store.trending_items(ALL)), dict(expected.trending_items(ALL)))
    if not trending_equal:
        problems.append("trending differs")
    histories_differ = _histories_differ(store, expected, sorted(expected_items))
    problems += [f"history differs for {u!r}" for u in histories_differ[:10]]
    return not differing and popular_equal and trending_equal and not histories_differ


def _close(actual: dict[str, float] | None, expected: dict[str, float] | None) -> bool:
    """Same keys, values equal up to float rounding (Redis adds in long double, in its order)."""
    if actual is None or expected is None:
        return actual is expected
    return actual.keys() == expected.keys() and all(
        math.isclose(value, expected[key], rel_tol=1e-9, abs_tol=1e-9)
        for key, value in actual.items()
    )


def _histories_differ(
    store: RedisFeatureStore, expected: InMemoryFeatureStore, user_ids: list[str]
) -> list[str]:
    limit = store.history_length
    differ = []
    for start in range(0, len(user_ids), PIPELINE_CHUNK):
        chunk = user_ids[start : start + PIPELINE_CHUNK]
        pipe = store.client.pipeline(transaction=False)
        for user_id in chunk:
            pipe.zrevrange(keys.user_history_key(store.prefix, user_id), 0, limit - 1)
        for user_id, entries in zip(chunk, pipe.execute(), strict=True):
            if [json.loads(e) for e in entries] != expected.user_history(user_id, limit):
                differ.append(user_id)
    return differ
