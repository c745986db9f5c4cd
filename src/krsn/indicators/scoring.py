"""How an indicator's confidence, threat score, severity and age are worked out.

The model, version ``krsn-1``, is documented here and stored with every indicator's score
factors, so an analyst can see why an indicator scores what it does:

- **Source confidence** of one report: ``reliability × confidence / 100``, where
  ``reliability`` is the source's ``reliability_score`` (0–100, default 50) and
  ``confidence`` the row's own confidence when the feed gives one, else the feed's
  default confidence (0–100, default 50).
- **Combined confidence** over every source that reported the indicator: the chance that
  at least one is right, ``100 × (1 − Π (1 − cᵢ/100))`` — two independent 60 % sources
  give 84 %, and no number of sources passes 100.
- **Threat score**: ``combined confidence × type weight``, plus 10 when a malware family is
  named, capped at 100. Type weights say how specific a value is: a file hash names one
  artefact (1.0); a URL one resource (0.95); a domain (0.85), an e-mail address (0.8) and
  an IP address (0.75) are shared or recycled; a CIDR range covers many hosts (0.6).
- **Severity** from the threat score: ≥ 85 critical, ≥ 65 high, ≥ 40 medium, else low.
- **Analyst override**: an analyst may set the confidence of an indicator
  (``metadata.analyst.confidence_override``); it then replaces the combined confidence in
  the threat score and severity, and the computed one is kept beside it.
- **Ageing**: each stored type has one lifetime (IP addresses and CIDR ranges 30 days,
  URL 60, domain 90, e-mail 180, hash 365), so expiry is one statement per stored type.
  Once unseen for longer than ``grace`` (a tenth of the lifetime), the score decays
  linearly to 0 at the end of the lifetime, as MISP's polynomial decay with δ = 1; past the
  lifetime the indicator goes inactive (:mod:`krsn.indicators.decay`) until a feed reports
  it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from krsn.indicators.models import Severity
from krsn.indicators.normalise import Kind

MODEL = "krsn-1"
DEFAULT_RELIABILITY = 50.0
DEFAULT_CONFIDENCE = 50.0
MALWARE_FAMILY_BONUS = 10.0

TYPE_WEIGHT: dict[Kind, float] = {
    Kind.MD5: 1.0,
    Kind.SHA1: 1.0,
    Kind.SHA256: 1.0,
    Kind.SHA512: 1.0,
    Kind.URL: 0.95,
    Kind.DOMAIN: 0.85,
    Kind.EMAIL: 0.8,
    Kind.IPV4: 0.75,
    Kind.IPV6: 0.75,
    Kind.CIDR: 0.6,
}

# One lifetime per stored indicator_type: every kind of that type shares it.
LIFETIME: dict[Kind, timedelta] = {
    Kind.IPV4: timedelta(days=30),
    Kind.IPV6: timedelta(days=30),
    Kind.CIDR: timedelta(days=30),
    Kind.URL: timedelta(days=60),
    Kind.DOMAIN: timedelta(days=90),
    Kind.EMAIL: timedelta(days=180),
    Kind.MD5: timedelta(days=365),
    Kind.SHA1: timedelta(days=365),
    Kind.SHA256: timedelta(days=365),
    Kind.SHA512: timedelta(days=365),
}


def source_confidence(reliability: float | None, confidence: float | None) -> float:
    """The confidence one report carries: the source's reliability times its confidence."""
    r = DEFAULT_RELIABILITY if reliability is None else reliability
    c = DEFAULT_CONFIDENCE if confidence is None else confidence
    return round(max(0.0, min(100.0, r)) * max(0.0, min(100.0, c)) / 100.0, 2)


def combined_confidence(confidences: Iterable[float]) -> float:
    """The chance that at least one of independent reports is right, 0–100."""
    doubt = 1.0
    for value in confidences:
        doubt *= 1.0 - max(0.0, min(100.0, value)) / 100.0
    return round(100.0 * (1.0 - doubt), 2)


def threat_score(kind: Kind, confidence: float, *, has_malware_family: bool) -> float:
    """The threat score from the combined confidence, the type and a named family."""
    score = confidence * TYPE_WEIGHT[kind]
    if has_malware_family:
        score += MALWARE_FAMILY_BONUS
    return round(min(100.0, score), 2)


def severity(score: float) -> Severity:
    """The severity band of a threat score."""
    if score >= 85:
        return Severity.CRITICAL
    if score >= 65:
        return Severity.HIGH
    if score >= 40:
        return Severity.MEDIUM
    return Severity.LOW


def decayed_score(kind: Kind, score: float, *, last_seen: datetime, now: datetime) -> float:
    """The score after ageing: whole during the grace period, then linear to 0."""
    lifetime = LIFETIME[kind]
    grace = lifetime / 10
    age = now - last_seen
    if age <= grace:
        return score
    if age >= lifetime:
        return 0.0
    return round(score * (1 - (age - grace) / (lifetime - grace)), 2)


def expires_at(kind: Kind, last_seen: datetime) -> datetime:
    """When an indicator unseen since ``last_seen`` goes inactive."""
    return last_seen + LIFETIME[kind]


def explain(
    kind: Kind,
    sources: dict[str, float],
    *,
    malware_families: list[str],
    confidence_override: float | None = None,
) -> dict[str, object]:
    """The stored score and its factors: what an analyst reads to see why.

    ``confidence_override``, an analyst's confidence (0–100), replaces the combined one.
    """
    computed = combined_confidence(sources.values())
    confidence = computed
    factors: dict[str, object] = {
        "source_confidences": dict(sorted(sources.items())),
        "type_weight": TYPE_WEIGHT[kind],
        "malware_family_bonus": MALWARE_FAMILY_BONUS if malware_families else 0.0,
    }
    if confidence_override is not None:
        confidence = round(max(0.0, min(100.0, float(confidence_override))), 2)
        factors["computed_confidence"] = computed
        factors["confidence_override"] = confidence
    score = threat_score(kind, confidence, has_malware_family=bool(malware_families))
    return {
        "model": MODEL,
        "confidence": confidence,
        "threat_score": score,
        "severity": severity(score).value,
        "factors": factors,
    }
