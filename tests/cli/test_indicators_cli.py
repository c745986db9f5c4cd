"""``krsn indicators``: search (filters, sort), show and lookup after an ingest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from krsn.feeds.formats.base import ParsedRow
from krsn.feeds.pipeline import FeedRef, ingest
from krsn.feeds.service import create_feed
from krsn.feeds.sources import ensure_source
from krsn.identity.audit import Actor


@pytest.fixture
def ingested(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRSN_DATA_DIR", str(tmp_path / "var"))
    feed = tmp_path / "feed.txt"
    # Public addresses: documentation ranges would be stopped by the built-in warninglists.
    feed.write_text("45.155.205.0/24\nevil.example.org\n45.9.148.9\n")
    cli.ok("ingest", str(feed), "--format", "text", "--source", "mine")


def test_search_show_and_lookup(cli, ingested):
    found = cli.json("indicators", "search", "evil")
    assert [i["indicator_value"] for i in found] == ["evil.example.org"]
    shown = cli.json("indicators", "show", "evil[.]example[.]org")
    assert shown["indicator"]["metadata"]["sources"] == {"mine": 25.0}
    assert "why:" in cli.ok("indicators", "show", "evil.example.org").stdout
    hits = cli.json("indicators", "lookup", "45.155.205.77", "45.9.148.10", "nonsense value")
    assert [(h["value"], h["matched"]) for h in hits["matches"]] == [
        ("45.155.205.77", "45.155.205.0/24")
    ]
    assert hits["unreadable"] == ["nonsense value"]
    assert "No indicator" in cli.failed("indicators", "show", "missing.example.net").stderr


def reported(cli) -> None:
    """Three indicators from two providers, the second through its feed 'Beta List'."""
    with cli.database.transaction() as session:
        alpha = ensure_source(session, actor=Actor.system(), name="alpha", reliability=90)
        feed = create_feed(
            session,
            actor=Actor.system(),
            name="Beta List",
            url="https://feeds.example.com/beta.txt",
            format_name="text",
            parsing_rules={},
            source_name="beta",
        )
        session.flush()
        beta, feed_ref = (
            ensure_source(session, actor=Actor.system(), name="beta"),
            FeedRef(id=feed.id, default_confidence=None),
        )
    ingest(
        cli.database,
        source=alpha,
        rows=[
            ParsedRow(
                line=1,
                value="evil.example.org",
                tags=("botnet", "tlp:green"),
                malware_family="Qakbot",
                first_seen=datetime(2024, 4, 1, tzinfo=UTC),
                last_seen=datetime(2024, 4, 20, tzinfo=UTC),
                confidence=90,
            ),
            ParsedRow(
                line=2,
                value="http://evil.example.org/Gate.php",
                tags=("phishing",),
                first_seen=datetime(2024, 4, 10, tzinfo=UTC),
                last_seen=datetime(2024, 4, 30, tzinfo=UTC),
                confidence=40,
            ),
        ],
    )
    ingest(
        cli.database,
        source=beta,
        feed=feed_ref,
        rows=[
            ParsedRow(
                line=1,
                value="45.9.148.9",
                tags=("botnet",),
                first_seen=datetime(2024, 3, 1, tzinfo=UTC),
                last_seen=datetime(2024, 4, 25, tzinfo=UTC),
                confidence=60,
            )
        ],
    )


def values(cli, *args: str) -> list[str]:
    return [i["indicator_value"] for i in cli.json("indicators", "search", *args)]


def test_search_filters_by_source_feed_tag_family_and_seen_times(cli):
    reported(cli)
    assert set(values(cli, "--source", "ALPHA")) == {
        "evil.example.org",
        "http://evil.example.org/Gate.php",
    }
    assert values(cli, "--feed", "beta list") == ["45.9.148.9"]
    assert set(values(cli, "--tag", "botnet")) == {"evil.example.org", "45.9.148.9"}
    assert values(cli, "--tag", "botnet", "--tag", "tlp:green") == ["evil.example.org"]
    assert values(cli, "--malware-family", "Qakbot") == ["evil.example.org"]
    assert values(cli, "--first-seen-before", "2024-04-01") == ["45.9.148.9"]
    assert values(
        cli, "--last-seen-after", "2024-04-25T00:00:00Z", "--last-seen-before", "2024-04-30"
    ) == ["45.9.148.9"]
    assert values(cli, "--first-seen-after", "2024-04-10T02:00:00+02:00") == [
        "http://evil.example.org/Gate.php"
    ]
    assert values(cli, "hxxp://evil[.]example[.]org") == ["http://evil.example.org/Gate.php"]


def test_search_sorts_either_way(cli):
    reported(cli)
    scored = cli.json("indicators", "search", "--sort=-threat_score")
    scores = [i["threat_score"] for i in scored]
    assert len(set(scores)) == 3 and scores == sorted(scores, reverse=True)
    by_score = [i["indicator_value"] for i in scored]
    assert values(cli, "--sort", "-threat_score") == by_score
    assert values(cli, "--sort", "threat_score") == by_score[::-1]
    assert values(cli, "--sort", "first_seen", "--limit", "2") == [
        "45.9.148.9",
        "evil.example.org",
    ]
    # The table is cut to the terminal's width: the starts of the values tell the rows apart.
    table = cli.ok("indicators", "search", "--tag", "botnet", "--sort", "-last_seen").stdout
    assert table.index("45.9.") < table.index("evil.")
    table = cli.ok("indicators", "search", "--tag", "botnet", "--sort", "last_seen").stdout
    assert table.index("evil.") < table.index("45.9.")


def test_search_refuses_unknown_names_bad_times_and_sorts_clearly(cli):
    reported(cli)
    assert "no threat source" in cli.failed("indicators", "search", "--source", "gamma").stderr
    assert "no feed" in cli.failed("indicators", "search", "--feed", "nope").stderr
    late = cli.failed("indicators", "search", "--first-seen-after", "last tuesday")
    assert "--first-seen-after" in late.stderr
    far = cli.failed("indicators", "search", "--last-seen-before", "0001-01-01T00:00:00+14:00")
    assert "--last-seen-before" in far.stderr
    assert cli("indicators", "search", "--sort", "score").exit_code != 0
