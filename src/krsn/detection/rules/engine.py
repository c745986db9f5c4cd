"""Evaluation of the active correlation rules over observations.

A rule's stored definition is compiled once (:func:`compile_rule`) into closures; the
active rules are cached per database and reloaded when a cheap version check
(count and latest ``updated_at`` of ``correlation_rules``) says they changed, in this process
or another. One call works on a batch:

- ``pattern`` rules fire on each observation their condition holds for;
- ``threshold`` and ``time_based`` rules write the batch's matching events to
  ``rule_matches`` in one statement, then read back each rule's keys within its window in
  one query, and fire when a key's count reaches N (or its steps complete) with this batch;
- ``ml`` rules fire when a model scored the observation (an in-process scorer registered
  with :func:`register_scorer`, else the model's stored prediction for the indicator) at or
  above ``min_score``.

The dry run (:mod:`krsn.detection.rules.dryrun`) replays past events through the same
compiled rules, with the window state in memory instead of the table.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Protocol, cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from krsn.detection.models import (
    AlertPriority,
    AlertSeverity,
    CorrelationRule,
    RuleMatch,
    RuleType,
)
from krsn.detection.observations import Firing, Observation
from krsn.detection.rules import language
from krsn.detection.rules.language import Group, Predicate, Template
from krsn.errors import Invalid
from krsn.ml.models import MLModel, MLPrediction

__all__ = [
    "MAX_WINDOW_MINUTES",
    "CompiledRule",
    "MemoryWindow",
    "Replay",
    "Scorer",
    "TableWindow",
    "active_rules",
    "compile_rule",
    "compile_stored",
    "evaluate",
    "forget_rules",
    "prune",
    "register_scorer",
    "run",
    "stored_scores",
    "unregister_scorer",
]

log = logging.getLogger(__name__)

MAX_WINDOW_MINUTES: Final = 31 * 24 * 60
"""The longest window a rule may keep (31 days)."""
MAX_COUNT: Final = 100_000
MAX_STEPS: Final = 10
RECHECK_SECONDS: Final = 300.0
"""Reload the rules at least this often, even when the version check says nothing changed
(it cannot see a change made with a clock behind the latest ``updated_at``)."""
_KEYS_PER_QUERY: Final = 900
_MATCHES: Final = cast(Table, RuleMatch.__table__)

STATEFUL: Final = frozenset({RuleType.THRESHOLD, RuleType.TIME_BASED})

_PRIORITY_OF: Final = {
    AlertSeverity.CRITICAL: AlertPriority.URGENT,
    AlertSeverity.HIGH: AlertPriority.HIGH,
}


# --- the in-process scorers of ML rules ---------------------------------------------------


Scorer = Callable[[Sequence[Observation]], Sequence[float | None]]
"""Scores a batch of observations, 0..1 each (None: no opinion), in their order."""

_scorers: dict[str, Scorer] = {}


def register_scorer(name: str, scorer: Scorer) -> None:
    """Let ``ml`` rules naming model ``name`` be scored in process by ``scorer`` (it takes
    precedence over the model's stored predictions)."""
    _scorers[name] = scorer


def unregister_scorer(name: str) -> None:
    """Forget the scorer of ``name``; its rules read stored predictions again."""
    _scorers.pop(name, None)


# --- compiled rules -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run: its definition checked and turned into closures."""

    id: uuid.UUID
    name: str
    rule_type: RuleType
    window_minutes: int | None
    min_confidence: float | None
    parameters: dict[str, Any] | None
    condition: Predicate | None
    title: Template
    severity: AlertSeverity | None = None
    priority: AlertPriority | None = None
    group_by: tuple[str, ...] = ()
    group: Group | None = None
    count: int = 0
    steps: tuple[Predicate, ...] = ()
    ordered: bool = True
    model: str | None = None
    min_score: float = 0.0
    key_prefix: str = ""
    """``<rule id>:``, the start of every firing's key."""

    def admits(self, observation: Observation) -> bool:
        """Whether the observation passes the confidence threshold and the condition."""
        if self.min_confidence is not None:
            indicator = observation.indicator
            confidence = None if indicator is None else indicator.confidence_score
            if confidence is None or confidence < self.min_confidence:
                return False
        return self.condition is None or self.condition(observation)

    def cutoff(self, now: datetime) -> datetime:
        """The start of the window ending at ``now``."""
        return now - timedelta(minutes=self.window_minutes or 0)


_COMMON: Final = frozenset({"severity", "title", "priority"})
_FIELDS: Final[Mapping[RuleType, frozenset[str]]] = {
    RuleType.PATTERN: _COMMON | {"condition"},
    RuleType.THRESHOLD: _COMMON | {"condition", "group_by", "count"},
    RuleType.TIME_BASED: _COMMON | {"steps", "group_by", "ordered"},
    RuleType.ML: _COMMON | {"condition", "model", "min_score"},
}
_EXTRAS: Final[Mapping[RuleType, tuple[str, ...]]] = {
    RuleType.PATTERN: ("rule", "key"),
    RuleType.THRESHOLD: ("rule", "key", "count"),
    RuleType.TIME_BASED: ("rule", "key"),
    RuleType.ML: ("rule", "key", "model", "score"),
}
_DEFAULT_TITLE: Final[Mapping[RuleType, str]] = {
    RuleType.PATTERN: "{rule}: {value}",
    RuleType.THRESHOLD: "{rule}: {count} events for {key}",
    RuleType.TIME_BASED: "{rule}: sequence complete for {key}",
    RuleType.ML: "{rule}: {value} scored {score} by {model}",
}

_D = "rule_definition"


def compile_rule(
    *,
    rule_id: uuid.UUID | None,
    name: str,
    rule_type: RuleType | str,
    definition: Any,
    confidence_threshold: float | Decimal | None = None,
    time_window_minutes: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> CompiledRule:
    """Check a rule and compile it; ``Invalid`` names the field or JSON path at fault
    (``rule_definition.condition.all.1.op``, ``time_window_minutes``)."""
    try:
        kind = RuleType(rule_type)
    except ValueError:
        raise Invalid(
            "rule_type", f"must be one of {', '.join(t.value for t in RuleType)}"
        ) from None
    if not isinstance(definition, dict):
        raise Invalid(_D, "must be a JSON object")
    unknown = sorted(set(definition) - _FIELDS[kind])
    if unknown:
        raise Invalid(
            f"{_D}.{unknown[0]}",
            f"not part of a {kind.value} rule; it takes {', '.join(sorted(_FIELDS[kind]))}",
        )
    window = _window(kind, time_window_minutes)
    confidence = _confidence(confidence_threshold)
    severity = _enum(AlertSeverity, definition.get("severity"), f"{_D}.severity")
    priority = _enum(AlertPriority, definition.get("priority"), f"{_D}.priority")
    title = language.compile_template(
        definition.get("title", _DEFAULT_TITLE[kind]), where=f"{_D}.title", extras=_EXTRAS[kind]
    )
    condition = None
    if "condition" in definition or kind is RuleType.PATTERN:
        if "condition" not in definition:
            raise Invalid(f"{_D}.condition", "required: the condition the rule fires on")
        condition = language.compile_condition(definition["condition"], where=f"{_D}.condition")
    ident = rule_id or uuid.uuid4()
    common: dict[str, Any] = {
        "id": ident,
        "key_prefix": f"{ident}:",
        "name": name,
        "rule_type": kind,
        "window_minutes": window,
        "min_confidence": confidence,
        "parameters": parameters,
        "condition": condition,
        "title": title,
        "severity": severity,
        "priority": priority,
    }
    if kind is RuleType.THRESHOLD:
        group_by, group = language.compile_group(definition.get("group_by"), where=f"{_D}.group_by")
        count = definition.get("count")
        if "count" not in definition:
            raise Invalid(f"{_D}.count", "required: how many events within the window fire it")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
            raise Invalid(f"{_D}.count", f"must be a whole number from 1 to {MAX_COUNT}")
        return CompiledRule(**common, group_by=group_by, group=group, count=count)
    if kind is RuleType.TIME_BASED:
        group_by, group = language.compile_group(definition.get("group_by"), where=f"{_D}.group_by")
        steps = definition.get("steps")
        if not isinstance(steps, list) or not 2 <= len(steps) <= MAX_STEPS:
            raise Invalid(f"{_D}.steps", f"must be a list of 2 to {MAX_STEPS} conditions")
        compiled = tuple(
            language.compile_condition(step, where=f"{_D}.steps.{i}")
            for i, step in enumerate(steps)
        )
        ordered = definition.get("ordered", True)
        if not isinstance(ordered, bool):
            raise Invalid(f"{_D}.ordered", "must be true (in order) or false (in any order)")
        return CompiledRule(
            **common, group_by=group_by, group=group, steps=compiled, ordered=ordered
        )
    if kind is RuleType.ML:
        model = definition.get("model")
        if not isinstance(model, str) or not model.strip() or len(model) > 255:
            raise Invalid(f"{_D}.model", "required: the name of the model (at most 255 characters)")
        score = definition.get("min_score")
        if "min_score" not in definition:
            raise Invalid(f"{_D}.min_score", "required: the least score, 0 to 1, that fires it")
        if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
            raise Invalid(f"{_D}.min_score", "must be a number from 0 to 1")
        return CompiledRule(**common, model=model, min_score=float(score))
    return CompiledRule(**common)


def _window(kind: RuleType, minutes: Any) -> int | None:
    if minutes is None:
        if kind in STATEFUL:
            raise Invalid(
                "time_window_minutes", f"required by a {kind.value} rule: the window it counts in"
            )
        return None
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise Invalid("time_window_minutes", "must be a whole number of minutes")
    if not 1 <= minutes <= MAX_WINDOW_MINUTES:
        raise Invalid("time_window_minutes", f"must be from 1 to {MAX_WINDOW_MINUTES} (31 days)")
    return minutes


def _confidence(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise Invalid("confidence_threshold", "must be a number from 0 to 100")
    number = float(value)
    if not 0 <= number <= 100:
        raise Invalid("confidence_threshold", "must be a number from 0 to 100")
    return number


def _enum(kind: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except (ValueError, TypeError):
        raise Invalid(where, f"must be one of {', '.join(m.value for m in kind)}") from None


def compile_stored(row: Any) -> CompiledRule:
    """Compile a ``correlation_rules`` row (or anything with its attributes)."""
    return compile_rule(
        rule_id=row.id,
        name=row.name,
        rule_type=row.rule_type,
        definition=row.rule_definition,
        confidence_threshold=row.confidence_threshold,
        time_window_minutes=row.time_window_minutes,
        parameters=row.parameters,
    )


# --- the active rules, cached ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loaded:
    version: tuple[Any, ...]
    rules: tuple[CompiledRule, ...]
    at: float


_cache: dict[str, _Loaded] = {}
_cache_lock = threading.Lock()


def active_rules(session: Session) -> tuple[CompiledRule, ...]:
    """The active rules, compiled: from the cache while the table's version is unchanged.

    A rule stored invalid (written around the service, or by an older release) is logged
    and left out rather than stopping detection.
    """
    connection = session.connection()
    url = connection.engine.url.render_as_string(hide_password=True)
    count, latest = session.execute(
        select(func.count(), func.max(CorrelationRule.updated_at))
    ).one()
    version = (count, latest)
    now = time.monotonic()
    loaded = _cache.get(url)
    if loaded is not None and loaded.version == version and now - loaded.at < RECHECK_SECONDS:
        return loaded.rules
    rows = session.execute(
        select(
            CorrelationRule.id,
            CorrelationRule.name,
            CorrelationRule.rule_type,
            CorrelationRule.rule_definition,
            CorrelationRule.confidence_threshold,
            CorrelationRule.time_window_minutes,
            CorrelationRule.parameters,
        )
        .where(CorrelationRule.is_active.is_(True))
        .order_by(CorrelationRule.name)
    ).all()
    rules = []
    for row in rows:
        try:
            rules.append(compile_stored(row))
        except Invalid as exc:
            log.warning(
                "correlation rule %s (%s) is invalid and skipped: %s", row.id, row.name, exc
            )
    compiled = tuple(rules)
    with _cache_lock:
        _cache[url] = _Loaded(version, compiled, now)
    return compiled


def forget_rules() -> None:
    """Drop the cached rules of every database (the next call reloads them)."""
    with _cache_lock:
        _cache.clear()


# --- window state: the table, or memory for the dry run -------------------------------------


@dataclass(slots=True)
class Match:
    """An event a threshold or time-based rule counts."""

    rule: CompiledRule
    key: str
    step: int
    observation: Observation
    group: dict[str, Any]
    at: datetime
    """When it happened, in UTC."""


@dataclass(frozen=True, slots=True)
class Seen:
    """A counted event read back within the window."""

    step: int
    at: datetime
    new: bool
    """Added by the current call."""


class Window(Protocol):
    """Where threshold and time-based rules keep their events between calls."""

    def add(self, matches: Sequence[Match]) -> None: ...

    def counts(
        self, rule: CompiledRule, keys: Collection[str], *, since: datetime
    ) -> dict[str, int]: ...

    def seen(
        self, rule: CompiledRule, keys: Collection[str], *, since: datetime
    ) -> dict[str, list[Seen]]: ...


class TableWindow:
    """The events in ``rule_matches``, shared by every process."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.added: set[uuid.UUID] = set()

    def add(self, matches: Sequence[Match]) -> None:
        if not matches:
            return
        rows = []
        for match in matches:
            row_id = uuid.uuid4()
            self.added.add(row_id)
            indicator = match.observation.indicator
            rows.append(
                {
                    "id": row_id,
                    "rule_id": match.rule.id,
                    "match_key": match.key,
                    "step": match.step,
                    "indicator_id": None if indicator is None else uuid.UUID(indicator.id),
                    "matched_at": match.at,
                    "data": {"value": match.observation.value[:512], "group": match.group},
                }
            )
        self.session.execute(insert(_MATCHES), rows)

    def counts(
        self, rule: CompiledRule, keys: Collection[str], *, since: datetime
    ) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in _parts(keys):
            rows = self.session.execute(
                select(RuleMatch.match_key, func.count())
                .where(
                    RuleMatch.rule_id == rule.id,
                    RuleMatch.match_key.in_(part),
                    RuleMatch.matched_at >= since,
                )
                .group_by(RuleMatch.match_key)
            )
            for key, count in rows:
                found[key] = count
        return found

    def seen(
        self, rule: CompiledRule, keys: Collection[str], *, since: datetime
    ) -> dict[str, list[Seen]]:
        found: dict[str, list[Seen]] = defaultdict(list)
        for part in _parts(keys):
            rows = self.session.execute(
                select(
                    RuleMatch.id, RuleMatch.match_key, RuleMatch.step, RuleMatch.matched_at
                ).where(
                    RuleMatch.rule_id == rule.id,
                    RuleMatch.match_key.in_(part),
                    RuleMatch.matched_at >= since,
                )
            )
            for row_id, key, step, at in rows:
                found[key].append(Seen(step, _utc(at), row_id in self.added))
        return found


class MemoryWindow:
    """The events in memory, for a replay that must write nothing."""

    def __init__(self) -> None:
        self.events: dict[tuple[uuid.UUID, str], list[tuple[int, datetime, int]]] = defaultdict(
            list
        )
        self.generation = 0

    def add(self, matches: Sequence[Match]) -> None:
        self.generation += 1
        for match in matches:
            self.events[(match.rule.id, match.key)].append((match.step, match.at, self.generation))

    def _kept(
        self, rule: CompiledRule, key: str, since: datetime
    ) -> list[tuple[int, datetime, int]]:
        events = self.events.get((rule.id, key))
        if not events:
            return []
        # Replayed in time order, so what left the window is at the front: drop it for good.
        start = 0
        while start < len(events) and events[start][1] < since:
            start += 1
        if start:
            del events[:start]
        return events

    def counts(
        self, rule: CompiledRule, keys: Collection[str], *, since: datetime
    ) -> dict[str, int]:
        return {key: len(self._kept(rule, key, since)) for key in keys}

    def seen(
        self, rule: CompiledRule, keys: Collection[str], *, since: datetime
    ) -> dict[str, list[Seen]]:
        return {
            key: [
                Seen(step, at, generation == self.generation)
                for step, at, generation in self._kept(rule, key, since)
            ]
            for key in keys
        }


def _parts(keys: Collection[str]) -> list[list[str]]:
    ordered = sorted(keys)
    return [ordered[i : i + _KEYS_PER_QUERY] for i in range(0, len(ordered), _KEYS_PER_QUERY)]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- evaluation -----------------------------------------------------------------------------

Scores = Callable[[CompiledRule, Sequence[Observation]], list[tuple[float | None, str]]]
"""Each observation's score from the rule's model, and where it came from."""


def evaluate(
    session: Session,
    observations: Sequence[Observation],
    *,
    now: datetime,
    stateful: bool | None = None,
) -> list[Firing]:
    """The firings of every active rule over these observations, in the caller's
    transaction (threshold and time-based rules keep their state in ``rule_matches``).

    ``stateful`` picks the rules: True only threshold and time-based rules (they write),
    False only the others (they only read, so a caller may run them before it takes a
    write lock), None all."""
    rules = active_rules(session)
    if stateful is not None:
        rules = tuple(rule for rule in rules if (rule.rule_type in STATEFUL) is stateful)
    if not rules or not observations:
        return []
    return run(
        rules,
        observations,
        now=_utc(now),
        window=TableWindow(session),
        scores=lambda rule, batch: stored_scores(session, rule, batch),
    )


def run(
    rules: Sequence[CompiledRule],
    observations: Sequence[Observation],
    *,
    now: datetime,
    window: Window,
    scores: Scores,
) -> list[Firing]:
    """The firings of ``rules`` over a batch, its window state in ``window``."""
    firings: list[Firing] = []
    matches: list[Match] = []
    scored: list[CompiledRule] = []
    for rule in rules:
        if rule.rule_type is RuleType.PATTERN:
            for observation in observations:
                if rule.admits(observation):
                    firings.append(_single(rule, observation))
        elif rule.rule_type is RuleType.ML:
            scored.append(rule)
        else:
            matches.extend(_matches(rule, observations, now))
    if matches:
        window.add(matches)
        by_rule: dict[uuid.UUID, list[Match]] = defaultdict(list)
        for match in matches:
            by_rule[match.rule.id].append(match)
        for rule_matches in by_rule.values():
            rule = rule_matches[0].rule
            if rule.rule_type is RuleType.THRESHOLD:
                firings.extend(_thresholds(rule, rule_matches, window, now))
            else:
                firings.extend(_sequences(rule, rule_matches, window, now))
    for rule in scored:
        firings.extend(_predictions(rule, observations, scores))
    return firings


def _matches(rule: CompiledRule, observations: Sequence[Observation], now: datetime) -> list[Match]:
    """The events of the batch a stateful rule counts; those already out of its window
    never could, and are left out."""
    found: list[Match] = []
    cutoff = rule.cutoff(now)
    group = rule.group
    assert group is not None
    for observation in observations:
        at = _utc(observation.observed_at)
        if at < cutoff or not rule.admits(observation):
            continue
        steps = (
            [0]
            if rule.rule_type is RuleType.THRESHOLD
            else [i for i, step in enumerate(rule.steps) if step(observation)]
        )
        if not steps:
            continue
        keyed = group(observation)
        if keyed is None:
            continue
        for step in steps:
            found.append(Match(rule, keyed[0], step, observation, keyed[1], at))
    return found


def _thresholds(
    rule: CompiledRule, matches: list[Match], window: Window, now: datetime
) -> list[Firing]:
    """Fire for each key whose count within the window reached N with this batch."""
    by_key: dict[str, list[Match]] = defaultdict(list)
    for match in matches:
        by_key[match.key].append(match)
    counts = window.counts(rule, by_key.keys(), since=rule.cutoff(now))
    firings = []
    for key, new in by_key.items():
        after = counts.get(key, 0)
        before = max(after - len(new), 0)
        if not before < rule.count <= after:
            continue
        new.sort(key=lambda m: m.at)
        match = new[min(rule.count - before, len(new)) - 1]
        evidence = {
            "count": after,
            "threshold": rule.count,
            "group": match.group,
            "window_minutes": rule.window_minutes,
        }
        firings.append(_fire(rule, match.observation, key, evidence, {"count": after}))
    return firings


def _complete(seen: list[Seen], steps: int, ordered: bool) -> list[Seen] | None:
    """The events that complete the steps (the earliest way), or None when they do not."""
    if not ordered:
        first: dict[int, Seen] = {}
        for event in sorted(seen, key=lambda s: s.at):
            first.setdefault(event.step, event)
        return [first[i] for i in range(steps)] if len(first) == steps else None
    chain: list[Seen] = []
    for event in sorted(seen, key=lambda s: (s.at, s.step)):
        if event.step == len(chain):
            chain.append(event)
            if len(chain) == steps:
                return chain
    return None


def _sequences(
    rule: CompiledRule, matches: list[Match], window: Window, now: datetime
) -> list[Firing]:
    """Fire for each key whose steps all matched within the window with this batch (in
    order when the rule says so), and did not before it."""
    by_key: dict[str, list[Match]] = defaultdict(list)
    for match in matches:
        by_key[match.key].append(match)
    seen = window.seen(rule, by_key.keys(), since=rule.cutoff(now))
    steps = len(rule.steps)
    firings = []
    for key, new in by_key.items():
        events = seen.get(key, [])
        done = _complete(events, steps, rule.ordered)
        if done is None or _complete([e for e in events if not e.new], steps, rule.ordered):
            continue
        last = max(new, key=lambda m: m.at)
        evidence = {
            "ordered": rule.ordered,
            "steps": [{"step": e.step, "at": e.at.isoformat()} for e in done],
            "group": last.group,
            "window_minutes": rule.window_minutes,
        }
        firings.append(_fire(rule, last.observation, key, evidence, {}))
    return firings


def _predictions(
    rule: CompiledRule, observations: Sequence[Observation], scores: Scores
) -> list[Firing]:
    admitted = [o for o in observations if rule.admits(o)]
    if not admitted:
        return []
    firings = []
    for observation, (score, origin) in zip(admitted, scores(rule, admitted), strict=True):
        if score is None or score < rule.min_score:
            continue
        evidence = {
            "model": rule.model,
            "score": score,
            "min_score": rule.min_score,
            "scored_by": origin,
        }
        firings.append(
            _fire(
                rule,
                observation,
                _subject(observation),
                evidence,
                {"model": rule.model, "score": round(score, 4)},
            )
        )
    return firings


def stored_scores(
    session: Session, rule: CompiledRule, observations: Sequence[Observation]
) -> list[tuple[float | None, str]]:
    """Each observation's score from the rule's model: a registered scorer's, else the
    latest stored prediction of an active model for its indicator (one query)."""
    scorer = _scorers.get(rule.model or "")
    if scorer is not None:
        return registered_scores(scorer, rule, observations)
    latest = latest_predictions(
        session,
        model=rule.model or "",
        indicator_ids={o.indicator.id for o in observations if o.indicator is not None},
    )
    return [
        (latest.get(o.indicator.id) if o.indicator is not None else None, "prediction")
        for o in observations
    ]


def registered_scores(
    scorer: Scorer, rule: CompiledRule, observations: Sequence[Observation]
) -> list[tuple[float | None, str]]:
    """A registered scorer's scores; one that fails or answers out of shape scores nothing
    (a model must not stop detection), and says so in the log."""
    try:
        given = list(scorer(observations))
    except Exception:
        log.exception(
            "the scorer of model %s failed on %d observations", rule.model, len(observations)
        )
        return [(None, "scorer")] * len(observations)
    if len(given) != len(observations):
        log.error(
            "the scorer of model %s gave %d scores for %d observations",
            rule.model,
            len(given),
            len(observations),
        )
        return [(None, "scorer")] * len(observations)
    return [
        (float(s) if isinstance(s, int | float) and not isinstance(s, bool) else None, "scorer")
        for s in given
    ]


def latest_predictions(
    session: Session, *, model: str, indicator_ids: Collection[str]
) -> dict[str, float]:
    """The latest prediction score of an active model for each of these indicators."""
    if not indicator_ids:
        return {}
    latest: dict[str, tuple[datetime | None, float]] = {}
    ids = sorted(indicator_ids)
    for start in range(0, len(ids), _KEYS_PER_QUERY):
        part = [uuid.UUID(i) for i in ids[start : start + _KEYS_PER_QUERY]]
        rows = session.execute(
            select(
                MLPrediction.indicator_id, MLPrediction.prediction_score, MLPrediction.predicted_at
            )
            .join(MLModel, MLModel.id == MLPrediction.model_id)
            .where(
                MLModel.model_name == model,
                MLModel.is_active.is_(True),
                MLPrediction.indicator_id.in_(part),
                MLPrediction.prediction_score.is_not(None),
            )
        )
        for indicator_id, score, at in rows:
            if score is None:
                continue
            key = str(indicator_id)
            known = latest.get(key)
            moment = None if at is None else _utc(at)
            if known is None or (moment is not None and (known[0] is None or moment > known[0])):
                latest[key] = (moment, float(score))
    return {key: score for key, (_, score) in latest.items()}


# --- firings ------------------------------------------------------------------------------


def _subject(observation: Observation) -> str:
    """What a pattern or ML firing is about: the indicator, else the canonical value."""
    indicator = observation.indicator
    return language.bounded(indicator.id if indicator is not None else observation.canonical)


def _single(rule: CompiledRule, observation: Observation) -> Firing:
    return _fire(rule, observation, _subject(observation), {}, {})


def _fire(
    rule: CompiledRule,
    observation: Observation,
    key: str,
    evidence: dict[str, Any],
    extras: dict[str, Any],
) -> Firing:
    severity = rule.severity or _severity_of(observation)
    title = rule.title.render(observation, {"rule": rule.name, "key": key, **extras})
    return Firing(
        rule_id=rule.id,
        rule_name=rule.name,
        rule_type=rule.rule_type.value,
        severity=severity,
        title=title,
        key=rule.key_prefix + key,
        observation=observation,
        window_minutes=rule.window_minutes,
        priority=rule.priority or _PRIORITY_OF.get(severity, AlertPriority.NORMAL),
        evidence={"rule_type": rule.rule_type.value, **evidence, "parameters": rule.parameters},
    )


def _severity_of(observation: Observation) -> AlertSeverity:
    indicator = observation.indicator
    if indicator is not None and indicator.severity is not None:
        return AlertSeverity(indicator.severity.value)
    return AlertSeverity.MEDIUM


# --- housekeeping ---------------------------------------------------------------------------


def prune(session: Session, *, now: datetime) -> int:
    """Delete the counted events no rule can count any more (older than their rule's
    window, or of a rule that keeps none); returns how many went."""
    now = _utc(now)
    rules = session.execute(
        select(CorrelationRule.id, CorrelationRule.rule_type, CorrelationRule.time_window_minutes)
    ).all()
    removed = 0
    windows = [
        {"rule": rule_id, "cutoff": now - timedelta(minutes=minutes)}
        for rule_id, kind, minutes in rules
        if kind in STATEFUL and minutes
    ]
    stateless = [rule_id for rule_id, kind, minutes in rules if kind not in STATEFUL or not minutes]
    table = _MATCHES
    for bounds in windows:
        result = session.execute(
            delete(table).where(
                table.c.rule_id == bounds["rule"], table.c.matched_at < bounds["cutoff"]
            )
        )
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    for start in range(0, len(stateless), _KEYS_PER_QUERY):
        result = session.execute(
            delete(table).where(table.c.rule_id.in_(stateless[start : start + _KEYS_PER_QUERY]))
        )
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    return removed


@dataclass
class Replay:
    """Rules run one event at a time, as if each had been evaluated when it happened, with
    the window state in memory (the dry run's evaluator)."""

    rules: Sequence[CompiledRule]
    window: MemoryWindow = field(default_factory=MemoryWindow)

    def step(self, observation: Observation, scores: Scores) -> list[Firing]:
        return run(
            self.rules,
            [observation],
            now=_utc(observation.observed_at),
            window=self.window,
            scores=scores,
        )
