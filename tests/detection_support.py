"""Rows the detection tests start from, made through the real ingestion path."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session

from krsn.db import Database
from krsn.detection.models import CorrelationRule, RuleType
from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import SourceRef, ingest
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor
from krsn.identity.models import Role, User


def seed_indicators(
    database: Database,
    values: Sequence[str],
    *,
    source: str = "feed",
    severity_tags: tuple[str, ...] = (),
    malware_family: str | None = None,
) -> SourceRef:
    """Ingest ``values`` as one feed's report (confidence 80) and return the source."""
    with database.transaction() as session:
        ref = ensure_source(session, actor=Actor.system(), name=source, reliability=90)
    rows = [
        ParsedRow(line=i + 1, value=v, tags=severity_tags, malware_family=malware_family)
        for i, v in enumerate(values)
    ]
    ingest(database, rows=rows, source=ref, default_confidence=80)
    return ref


def add_user(
    session: Session, name: str, *, role: Role = Role.ANALYST, active: bool = True
) -> uuid.UUID:
    """A user named ``name`` (e-mail ``name@example.org``) who never signs in."""
    user = User(
        username=name,
        email=f"{name}@example.org",
        role=role,
        password_hash="not-a-hash: this user never signs in",
        is_active=active,
    )
    session.add(user)
    session.flush()
    return user.id


def add_rule(session: Session, name: str) -> uuid.UUID:
    """An empty pattern rule: something channels and alerts can belong to."""
    rule = CorrelationRule(name=name, rule_definition={}, rule_type=RuleType.PATTERN)
    session.add(rule)
    session.flush()
    return rule.id


class Receiver:
    """An HTTP endpoint on 127.0.0.1 recording each POST as (headers, body); answers
    ``status``. ``close`` it when done."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append((dict(self.headers.items()), body))
                self.send_response(owner.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
