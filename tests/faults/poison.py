"""Adversarial messages with the dead-letter reason each must get (and tricky valid ones).

The expected reason code of every message follows from how it is built, not from the worker's
own classifier: undecodable bytes, invalid JSON (including nesting deeper than any parser
allows), valid JSON that is not a valid event (wrong types, missing fields, huge numbers, ids
too long), messages over the 64 KiB limit (up to 1 MiB strings) and tombstones (no value).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from stream.batch import INVALID_JSON, NO_VALUE, SCHEMA, TOO_LARGE, UNDECODABLE
from tests.faults.traffic import VALID, Outgoing

MIB = 1024 * 1024
KIB = 1024


def _event(rng: random.Random, number: int) -> dict[str, Any]:
    return {
        "event_id": f"poison-{number}",
        "user_id": f"user-{rng.randrange(3000)}",
        "item_id": f"item-{rng.randrange(800)}",
        "event_type": "watch",
        "timestamp": 1_700_000_000_000 + number,
    }


def _undecodable(rng: random.Random, n: int) -> bytes:
    kinds = [
        lambda: rng.randbytes(rng.randrange(1, 200)) + b"\xff",
        lambda: json.dumps(_event(rng, n)).encode().replace(b"user-", b"user-\xc0\xaf"),
        lambda: b'{"event_id": "\xed\xa0\x80"}',  # an encoded lone surrogate
        lambda: json.dumps(_event(rng, n)).encode()[:-2] + b"\xe2\x82",  # truncated sequence
    ]
    return rng.choice(kinds)()


def _invalid_json(rng: random.Random, n: int) -> bytes:
    text = json.dumps(_event(rng, n))
    depth = rng.choice([2_000, 20_000])  # deeper than the parser's recursion limit
    kinds = [
        lambda: text[: rng.randrange(1, len(text) - 1)],
        lambda: text.replace("}", ",}"),
        lambda: text.replace('"', "'"),
        lambda: text.replace(str(n + 1_700_000_000_000), rng.choice(["NaN", "Infinity"])),
        lambda: "[" * depth + "]" * depth,
        lambda: '{"user_id": ' + "{" * depth + "}" * depth + "}",
        lambda: "",
        lambda: "\ufeff" + text,
    ]
    return rng.choice(kinds)().encode("utf-8")


def _schema(rng: random.Random, n: int) -> bytes:
    event = _event(rng, n)
    field = rng.choice(list(event))
    nested: Any = "x"
    for _ in range(400):  # deep, but within what the parser accepts
        nested = [nested]
    kinds: list[Callable[[], Any]] = [
        lambda: {k: v for k, v in event.items() if k != field},
        lambda: {**event, field: rng.choice([None, 1.5, True, [], {}, nested])},
        lambda: {**event, "timestamp": rng.choice([10**400, -1, 2**63, 1.0e300, "yesterday"])},
        lambda: {**event, "watch_seconds": rng.choice([-1, 10**400, "long"])},
        lambda: {**event, "duration_seconds": rng.choice([0, -5])},
        lambda: {**event, "event_type": rng.choice(["purchase", "VIEW", ""])},
        lambda: {**event, rng.choice(["user_id", "item_id", "event_id"]): "x" * 129},
        lambda: rng.choice([[event], 42, "event", None, True]),
    ]
    return json.dumps(rng.choice(kinds)()).encode("utf-8")


def _too_large(rng: random.Random, n: int) -> bytes:
    size = MIB if rng.random() < 0.02 else rng.randrange(64 * KIB + 1, 72 * KIB)
    event = {**_event(rng, n), "comment": "x" * size}  # valid but for its size
    return json.dumps(event).encode("utf-8")


def _tricky_valid(rng: random.Random, n: int) -> bytes:
    """Valid events with ids that stress key escaping and a large (under the limit) extra."""
    event = _event(rng, n)
    event["user_id"] = rng.choice(["{evil}", "a:b%7Bc", "ユーザー", "🙂" * 32, "u" * 128, "%{}%"])
    event["item_id"] = rng.choice(["{global}", "i:1", "élément", "x" * 128])
    if rng.random() < 0.1:
        event["padding"] = "p" * (60 * KIB)
    return json.dumps(event, ensure_ascii=rng.random() < 0.5).encode("utf-8")


BUILDERS: dict[str, Callable[[random.Random, int], bytes]] = {
    UNDECODABLE: _undecodable,
    INVALID_JSON: _invalid_json,
    SCHEMA: _schema,
    TOO_LARGE: _too_large,
}
WEIGHTS = (10, 10, 10, 2)  # over-limit messages are few: each is written twice (events, DLQ)


def poison_messages(n: int, seed: int, tricky_valid: int = 0) -> list[Outgoing]:
    """``n`` invalid messages (all five reason codes) plus ``tricky_valid`` valid ones."""
    rng = random.Random(seed)
    messages = []
    for number in range(n):
        if number % 100 == 99:
            messages.append(Outgoing(f"tombstone-{number}".encode(), None, NO_VALUE))
            continue
        code = rng.choices(list(BUILDERS), weights=WEIGHTS)[0]
        key = rng.choice([None, f"user-{rng.randrange(3000)}".encode(), rng.randbytes(8)])
        messages.append(Outgoing(key, BUILDERS[code](rng, number), code))
    for number in range(tricky_valid):
        value = _tricky_valid(rng, n + number)
        messages.append(Outgoing(json.loads(value)["user_id"].encode("utf-8"), value, VALID))
    rng.shuffle(messages)
    return messages
