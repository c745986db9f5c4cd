"""Incident numbers: INC-YYYY-NNNN, one sequence a year, unique and gapless when many
transactions open incidents at once, on both engines."""

from __future__ import annotations

import threading

from sqlalchemy import select, update

from krsn.db import Database
from krsn.db.types import utcnow
from krsn.detection.incidents import numbering, service
from krsn.detection.models import Incident, IncidentCounter
from krsn.identity.audit import Actor


def test_numbers_count_per_year_and_widen_past_9999(db: Database) -> None:
    with db.transaction() as session:
        taken = [numbering.next_number(session, year=2026) for _ in range(3)]
        taken.append(numbering.next_number(session, year=2027))
    assert taken == ["INC-2026-0001", "INC-2026-0002", "INC-2026-0003", "INC-2027-0001"]
    with db.transaction() as session:
        session.execute(
            update(IncidentCounter).where(IncidentCounter.year == 2026).values(last_number=9999)
        )
        assert numbering.next_number(session, year=2026) == "INC-2026-10000"
    assert numbering.is_number("inc-2026-10000")
    assert not numbering.is_number("INC-26-0001")


def test_a_rolled_back_incident_gives_its_number_back(db: Database) -> None:
    actor = Actor(user_id=None, via="cli")
    try:
        with db.transaction() as session:
            service.create_incident(session, actor=actor, title="abandoned")
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    with db.transaction() as session:
        kept = service.create_incident(session, actor=actor, title="kept")
    assert kept.incident_number == numbering.format_number(utcnow().year, 1)


def test_incidents_opened_at_once_take_unique_consecutive_numbers(db: Database) -> None:
    workers = 10
    start = threading.Barrier(workers)
    failures: list[BaseException] = []
    actor = Actor(user_id=None, via="cli")

    def open_one(index: int) -> None:
        try:
            start.wait(10)
            # Each worker: its own connection, its own transaction.
            with db.transaction() as session:
                service.create_incident(session, actor=actor, title=f"Wave {index}")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures

    year = utcnow().year
    with db.transaction(readonly=True) as session:
        numbers = sorted(session.scalars(select(Incident.incident_number)))
        counter = session.get(IncidentCounter, year)
    assert numbers == [numbering.format_number(year, n) for n in range(1, workers + 1)]
    assert counter is not None and counter.last_number == workers
