"""The detection flow: observations → watchlist hits → rules → alerts.

Two paths feed it, in the transaction that stores what they bring:

- ingestion (:func:`on_ingest`, called by :func:`krsn.feeds.pipeline.store_batch` for every
  stored batch, whatever the feed format): each reported indicator is an observation;
  a blacklist item it hits, or a rule it satisfies, raises an alert;
- sightings (:mod:`krsn.detection.sightings.service`): each observable seen in the
  customer's environment; besides watchlists and rules, a sighting of an active indicator
  raises an alert by itself.

With no watchlist item and no active rule, ingestion pays two indexed existence queries per
batch and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from krsn.detection.alerts.service import AlertOutcome, alert_severity, raise_alerts
from krsn.detection.models import AlertSeverity, WatchlistItem, WatchlistType
from krsn.detection.observations import Firing, Observation, Origin
from krsn.detection.rules.engine import active_rules, evaluate
from krsn.detection.watchlists.matching import attach_hits
from krsn.indicators.lookup import LookupIndicator, match_normalised
from krsn.indicators.normalise import Indicator

_BLACKLIST_SEVERITY: Final = {
    WatchlistType.IP_BLACKLIST: AlertSeverity.HIGH,
    WatchlistType.DOMAIN_BLACKLIST: AlertSeverity.HIGH,
    WatchlistType.CUSTOM: AlertSeverity.MEDIUM,
}
_TITLE_VALUE: Final = 300


@dataclass
class DetectionOutcome:
    """What one batch of observations raised."""

    observations: int = 0
    watchlist_hits: int = 0
    firings: int = 0
    alerts: AlertOutcome | None = None

    @property
    def alerts_created(self) -> int:
        return len(self.alerts.created) if self.alerts else 0

    @property
    def alerts_updated(self) -> int:
        return len(self.alerts.updated) if self.alerts else 0

    @property
    def suppressed(self) -> int:
        return self.alerts.suppressed if self.alerts else 0


def armed(session: Session) -> bool:
    """Whether anything could fire on an ingested indicator: a watchlist item or an active
    rule (sightings always run, since a sighting of an indicator is an alert by itself)."""
    return bool(active_rules(session)) or bool(
        session.scalar(select(exists().select_from(WatchlistItem)))
    )


def _short(value: str) -> str:
    return value if len(value) <= _TITLE_VALUE else value[: _TITLE_VALUE - 1] + "…"


def own_firings(observations: Sequence[Observation]) -> list[Firing]:
    """The firings detection raises without a rule: a blacklist hit, and a sighting of an
    active indicator."""
    firings: list[Firing] = []
    add = firings.append
    for observation in observations:
        seen = "reported by a feed" if observation.origin is Origin.INGEST else "seen"
        for hit in observation.watchlist_hits:
            if hit.suppresses:
                continue
            add(
                Firing(
                    rule_id=None,
                    rule_name=f"watchlist {hit.watchlist_name}",
                    rule_type="watchlist",
                    severity=_BLACKLIST_SEVERITY.get(hit.list_type, AlertSeverity.MEDIUM),
                    title=f"{_short(observation.canonical)} {seen}: on watchlist "
                    f"{hit.watchlist_name}",
                    key=f"watchlist:{hit.item_id}:{observation.canonical}",
                    observation=observation,
                    evidence={"watchlist_item": hit.item_value, "list_type": hit.list_type.value},
                )
            )
        indicator = observation.indicator
        if observation.origin is Origin.SIGHTING and indicator is not None:
            where = observation.host or observation.sensor or observation.log_source
            on = f" on {_short(where)}" if where else ""
            add(
                Firing(
                    rule_id=None,
                    rule_name="sighting of a known indicator",
                    rule_type="sighting",
                    severity=alert_severity(indicator.severity, AlertSeverity.MEDIUM),
                    title=f"Sighting of {indicator.indicator_type.value} "
                    f"{_short(indicator.indicator_value)}{on}",
                    key=f"indicator:{indicator.id}",
                    observation=observation,
                    evidence={
                        "threat_score": indicator.threat_score,
                        "decayed_threat_score": indicator.decayed_threat_score,
                        "tags": list(indicator.tags),
                        "malware_families": list(indicator.malware_families),
                    },
                )
            )
    return firings


def detect(
    session: Session,
    observations: Sequence[Observation],
    *,
    now: datetime,
    attached: bool = False,
    stateless_firings: list[Firing] | None = None,
) -> DetectionOutcome:
    """Watchlists, rules and alerts for one batch, in the caller's transaction; with
    ``attached`` the observations already carry their watchlist hits, and
    ``stateless_firings`` are those of the rules that keep no state, already evaluated
    (only threshold and time-based rules are left to run here)."""
    outcome = DetectionOutcome(observations=len(observations))
    if not observations:
        return outcome
    if not attached:
        attach_hits(session, observations, now=now)
    outcome.watchlist_hits = sum(len(o.watchlist_hits) for o in observations)
    if stateless_firings is None:
        firings = evaluate(session, observations, now=now)
    else:
        firings = [*stateless_firings, *evaluate(session, observations, now=now, stateful=True)]
    firings.extend(own_firings(observations))
    outcome.firings = len(firings)
    outcome.alerts = raise_alerts(session, firings=firings, now=now)
    return outcome


def on_ingest(
    session: Session,
    *,
    indicators: Sequence[Indicator],
    source: str | None,
    feed: str | None,
    now: datetime,
) -> DetectionOutcome | None:
    """Detection over one stored ingestion batch (its normalised indicators); None when
    nothing is armed."""
    if not indicators or not armed(session):
        return None
    unique = list({indicator.signature: indicator for indicator in indicators}.values())
    # Only the indicator itself: a range holding an ingested address is not a report of it.
    active: dict[str, LookupIndicator] = {
        hit.value: hit.indicator
        for hit in match_normalised(session, found=[(i.value, i) for i in unique])
        if hit.matched == hit.value
    }
    observations = [
        Observation(
            origin=Origin.INGEST,
            value=indicator.value,
            kind=indicator.kind.value,
            canonical=indicator.value,
            observed_at=now,
            indicator=active.get(indicator.value),
            matched=indicator.value if indicator.value in active else None,
            source=source,
            feed=feed,
        )
        for indicator in unique
    ]
    return detect(session, observations, now=now)
