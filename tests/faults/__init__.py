"""Fault injection with full event accounting (issue 7): ``make test-faults``.

Every scenario publishes a known set of messages, injects its faults, waits until the worker
group committed everything, then balances the books and writes them to ``.run/faults/``
(``scripts/faults_report.py`` turns those into the table in RELIABILITY.md).

The harness, for scenario authors:

- ``tests.faults.traffic``: ``known_events`` (seeded events with redeliveries), ``mix`` (interleave
  other messages, e.g. poison), ``create_topics``, ``publish`` (raw acks=all producer; returns the
  acknowledged ``Sent`` messages with partition and offset), ``wait_drained``, ``lag``,
  ``read_dead_letters``.
- ``tests.faults.accounting``: ``account(scenario, settings, client, sent) -> Accounting`` with
  ``summary()``, ``write(duration_seconds, faults, **extra)`` and ``assert_clean()``;
  ``write_result`` for scenarios whose outcome is not a set of events (the trainer's).
- ``tests.faults.poison``: ``poison_messages(n, seed, tricky_valid)``, adversarial messages whose
  reason code is known by construction (plus valid events with hostile ids).
- ``tests.faults.pausing_trainer``: ``streamrec train`` that stops dead at a chosen publish step.
- ``tests/faults/conftest.py`` fixtures: ``fault_settings`` (private topics, group and key
  prefix; 6 partitions), ``fault_redis`` (a client; the prefix is deleted afterwards),
  ``processes`` (start/kill/restart streamrec processes; all stopped at teardown).

``test_accounting.py`` proves the books catch a lost event, a double application and a missing
dead letter. Every test here is marked ``faults``; ``faults_ci`` marks the ones ``.ci/run`` runs.
Plain ``pytest`` / ``make test`` never collects this directory (``norecursedirs`` in
pyproject.toml): it runs when named, as ``make test-faults`` does.
"""
