"""Reading interaction files and generating sample events."""

from pathlib import Path

import pytest

from ingest.errors import InvalidRequest
from ingest.sources import generate_events, read_interactions


def test_movielens_lines_become_events_with_stable_ids(tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("196\t242\t3\t881250949\n186\t302\t5\t891717742\n")
    first = list(read_interactions(path))
    again = list(read_interactions(path))
    assert [(e.user_id, e.item_id, e.event_type, e.timestamp) for e in first] == [
        ("196", "242", "view", 881250949000),
        ("186", "302", "like", 891717742000),
    ]
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id != first[1].event_id


def test_csv_with_header_optional_type_and_rfc3339(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "user_id,item_id,timestamp,event_type\nu1,i1,1000,like\nu2,i2,1970-01-01T00:00:02Z\n"
    )
    events = list(read_interactions(path))
    assert [(e.user_id, e.item_id, e.timestamp, e.event_type) for e in events] == [
        ("u1", "i1", 1000, "like"),
        ("u2", "i2", 2000, "view"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("u1,i1\n", "expected 3 or 4"),
        ("u1,i1,5,click\n", "unknown event_type"),
        ("u1,i1,soon\n", "timestamp"),
    ],
)
def test_bad_csv_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InvalidRequest, match=f"bad.csv:1: .*{message}"):
        list(read_interactions(path))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="no such file"):
        read_interactions(tmp_path / "absent")


def test_generated_events_are_deterministic_and_clustered() -> None:
    events = list(generate_events(n_users=40, n_items=80, n_events=2000, seed=1))
    assert events == list(generate_events(n_users=40, n_items=80, n_events=2000, seed=1))
    same_genre = sum(
        int(e.user_id.split("-")[1]) % 8 == int(e.item_id.split("-")[1]) % 8 for e in events
    )
    assert same_genre / len(events) > 0.8
