"""TLP 2.0 levels as people and feeds write them, a report's classification, the one release
rule of every channel, and its SQL form, which must never release what the rule withholds."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from krsn.db import Database
from krsn.errors import Invalid
from krsn.indicators.models import IndicatorType, ThreatIndicator
from krsn.sharing.models import Classification, ThreatReport
from krsn.sharing.tlp import (
    OPERATOR,
    OPERATOR_EXPORT,
    TLP_LEVELS,
    Audience,
    Channel,
    Recipient,
    feed_audience,
    may_release,
    parse_tlp,
    released,
    report_tlp,
    spellings,
    strictest,
    tlp_level,
)

BLUE, ELSEWHERE = uuid.uuid4(), uuid.uuid4()
ANALYST = Recipient(organization_id=BLUE)
STRANGER = Recipient(organization_id=ELSEWHERE)
NOBODY = Recipient()


@pytest.mark.parametrize(
    ("written", "level"),
    [
        ("TLP:RED", "red"),
        ("tlp:white", "clear"),
        ("WHITE", "clear"),
        ("CLEAR", "clear"),
        ("TLP:AMBER+STRICT", "amber+strict"),
        ("amber strict", "amber+strict"),
        ("amber_strict", "amber+strict"),
        ("tlp: green", "green"),
        ("TLP: purple", "red"),
        ("amber+", "amber"),
        ("", None),
        (None, None),
    ],
)
def test_tlp_levels_read_every_spelling_and_fail_closed(written: str | None, level: str | None):
    assert tlp_level(written) == level


@given(st.text(max_size=30))
def test_whatever_is_written_reads_as_a_level_or_none(written: str):
    assert tlp_level(written) in (*TLP_LEVELS, None)


def test_a_person_naming_no_level_is_told_so():
    assert parse_tlp("TLP:RED") == "red" and parse_tlp(None) is None and parse_tlp(" ") is None
    with pytest.raises(Invalid) as raised:
        parse_tlp("purple")
    assert raised.value.field == "tlp"


def test_the_strictest_level_wins():
    assert strictest("green", None, "amber") == "amber"
    assert strictest("amber+strict", "red") == "red"
    assert strictest(None) is None and strictest() is None


def test_a_report_is_marked_by_its_classification_which_a_marking_only_tightens():
    report = ThreatReport(title="r", classification=Classification.PUBLIC)
    assert report_tlp(report) == "clear"
    report.classification = Classification.INTERNAL
    assert report_tlp(report) == "amber+strict"
    report.classification = Classification.CONFIDENTIAL
    assert report_tlp(report) == "red"
    report.classification = Classification.PUBLIC
    report.metadata_ = {"tlp": "amber"}
    assert report_tlp(report) == "amber"
    report.classification = Classification.INTERNAL
    report.metadata_ = {"tlp": "green"}
    assert report_tlp(report) == "amber+strict"


# --- The release rule -----------------------------------------------------------------------


def release(level: str | None, recipient: Recipient, channel: Channel) -> bool:
    return may_release(level, recipient=recipient, owner_organization_id=BLUE, channel=channel)


@pytest.mark.parametrize("channel", list(Channel))
def test_red_goes_to_admins_by_a_direct_export_only(channel: Channel):
    assert release("red", OPERATOR, channel) is (channel == Channel.EXPORT)
    for recipient in (ANALYST, STRANGER, NOBODY):
        assert not release("red", recipient, channel)


@pytest.mark.parametrize("channel", list(Channel))
def test_amber_strict_goes_to_admins_and_the_owners_organization(channel: Channel):
    assert release("amber+strict", OPERATOR, channel)
    assert release("amber+strict", ANALYST, channel)
    assert not release("amber+strict", STRANGER, channel)
    assert not release("amber+strict", NOBODY, channel)
    # Without an owner (an actor, a query) nobody but admins is of its organization.
    assert not may_release(
        "amber+strict", recipient=NOBODY, owner_organization_id=None, channel=channel
    )


@pytest.mark.parametrize("level", ["amber", "green", "clear", None])
def test_amber_and_below_go_to_whoever_reads_the_container(level: str | None):
    for channel in Channel:
        assert release(level, STRANGER, channel) and release(level, NOBODY, channel)


def test_a_feed_has_a_ceiling_green_by_default_never_above_amber_strict():
    green = feed_audience()
    assert green.levels(owner_organization_id=None) == ["clear", "green"]
    # Unmarked objects pass any ceiling.
    assert green.allows(None, owner_organization_id=None)
    strict = feed_audience("TLP:AMBER+STRICT")
    assert strict.levels(owner_organization_id=None) == ["clear", "green", "amber", "amber+strict"]
    for too_high in ("red", "tlp:red", "purple"):
        with pytest.raises(Invalid):
            feed_audience(too_high)


def test_an_unknown_level_is_treated_as_red():
    assert not release("ultraviolet", ANALYST, Channel.EXPORT)
    assert release("ultraviolet", OPERATOR, Channel.EXPORT)


# --- The SQL form ---------------------------------------------------------------------------


def test_every_spelling_the_sql_filter_knows_reads_as_its_level():
    for level, written in spellings().items():
        for spelling in written:
            assert tlp_level(spelling) == level, spelling


def _stored(db: Database, stated: list[object]) -> dict[str, object]:
    """Indicators with these metadata.tlp values (absent for the first); value → stated."""
    found: dict[str, object] = {}
    with db.transaction() as session:
        for number, value in enumerate(stated):
            name = f"tlp-{number}.example.org"
            metadata: dict[str, object] = {} if number == 0 else {"tlp": value}
            session.add(
                ThreatIndicator(
                    indicator_value=name,
                    indicator_type=IndicatorType.DOMAIN,
                    metadata_=metadata,
                    hash_signature=name,
                )
            )
            found[name] = None if number == 0 else value
    return found


AUDIENCES = [
    OPERATOR_EXPORT,
    Audience(ANALYST, Channel.EXPORT),
    Audience(STRANGER, Channel.EXPORT),
    Audience(ANALYST, Channel.TAXII),
    Audience(OPERATOR, Channel.TAXII),
    feed_audience(),
    feed_audience("amber+strict"),
]


@pytest.mark.parametrize("audience", AUDIENCES, ids=lambda a: f"{a.channel}-{a.max_level}")
def test_the_sql_filter_releases_exactly_what_the_rule_does_or_less(
    db: Database, audience: Audience
):
    stated: list[object] = [None, None, "", "TLP:RED", "red", "tlp:white", "Amber Strict"]
    stated += ["AMBER+STRICT", " green ", "tlp:amber", "clear", "purple", 5, True, "tlp:amber+"]
    found = _stored(db, stated)
    condition = released(
        ThreatIndicator.metadata_["tlp"].as_string(), audience, owner_organization_id=BLUE
    )
    with db.transaction(readonly=True) as session:
        got = set(session.scalars(sa.select(ThreatIndicator.indicator_value).where(condition)))
    known = {spelling for written in spellings().values() for spelling in written}
    for name, value in found.items():
        by_rule = audience.allows(tlp_level(value), owner_organization_id=BLUE)
        if name in got:
            assert by_rule, (value, audience)
        elif value is None or (isinstance(value, str) and value.strip().lower() in known | {""}):
            # Every spelling it knows of a level the rule releases is released too.
            assert not by_rule, (value, audience)
