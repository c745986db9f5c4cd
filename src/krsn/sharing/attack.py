"""MITRE ATT&CK bundles (Enterprise, ICS, Mobile; STIX 2.0 or 2.1) into the knowledge tables.

Where each part of a bundle goes:

- attack-pattern → ``mitre_techniques``, keyed by ATT&CK id. ``tactic`` holds the tactic
  short names joined by ", " (one technique can serve several tactics); ``data_sources`` the
  data components that detect it (``x_mitre_data_sources`` in bundles before v18, detection
  strategies → analytics → data components from v18 on). A sub-technique is a row of its own
  whose id names its parent (T1055.011 → T1055).
- intrusion-set → ``threat_actors``: name, aliases, description; ``known_tools`` the
  software it uses; ``attribution_data["mitre_attack"]`` its ATT&CK and STIX ids, status and,
  per domain, the techniques, software and campaigns it uses.
- campaign → ``threat_campaigns``: first and last seen, the tactics and techniques it used,
  ``procedures`` (every ``uses`` with what ATT&CK says was done) and the attributed groups.
- What has no column of its own — tactics, software with the techniques it uses, each
  technique's STIX id, link and revoked/deprecated status, campaigns' ids — is one
  ``system_configuration`` value per domain, ``attack.<domain>``.

Nothing is ever deleted: revoked and deprecated objects stay, flagged, so old mappings keep
resolving (and say what replaced them). Items the import writes into a row's JSON lists carry
an ``attack_id`` and a ``domain``; a re-import replaces only its own domain's items, so an
analyst's entries and another domain's import survive, and link tables are never touched.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from krsn.db.types import utcnow
from krsn.errors import Invalid, NotFound
from krsn.identity import audit
from krsn.identity.audit import Actor
from krsn.identity.models import ConfigCategory, SystemConfiguration
from krsn.osint.graph.attack import sync_attack_edges
from krsn.sharing.models import IndicatorTechnique, MitreTechnique, ThreatActor, ThreatCampaign
from krsn.sharing.schemas import (
    ImportCounts,
    ImportSummary,
    TechniqueDetail,
    TechniqueRead,
    TechniqueRef,
)

log = logging.getLogger(__name__)

ATTACK_SOURCES = frozenset({"mitre-attack", "mitre-ics-attack", "mitre-mobile-attack"})
CATALOG_PREFIX = "attack."
OWNER_KEY = "mitre_attack"
TACTIC_SEPARATOR = ", "
SOFTWARE_TYPES = frozenset({"malware", "tool"})
STAGES = ("read", "techniques", "groups", "campaigns", "software", "save")
TECHNIQUE_COLUMNS = (
    "technique_name",
    "description",
    "tactic",
    "data_sources",
    "platforms",
    "defenses_bypassed",
)
ACTOR_COLUMNS = (
    "actor_name",
    "aliases",
    "description",
    "known_tools",
    "attribution_data",
    "first_observed",
    "last_observed",
)
UNSTATED_ACTOR_FIELDS = ("motivations", "target_industries", "target_countries")
CAMPAIGN_COLUMNS = (
    "campaign_name",
    "description",
    "first_observed",
    "last_observed",
    "tactics",
    "techniques",
    "procedures",
    "attributed_actors",
)
_TACTIC_NAME = re.compile(r"^[a-z0-9-]+$")
_TECHNIQUE_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


# --- Reading --------------------------------------------------------------------------------


def load_bundle(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A STIX bundle from a dict or a ``.json`` / ``.json.gz`` file, checked to be one."""
    if isinstance(source, Mapping):
        bundle: Any = dict(source)
    else:
        path = Path(source)
        try:
            raw = path.read_bytes()
            # Sniff rather than trust the suffix: saved downloads are often renamed.
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            bundle = json.loads(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise Invalid("file", f"cannot read {path.name}: {exc}") from exc
        except ValueError as exc:
            raise Invalid("file", f"{path.name} is not JSON: {exc}") from exc
    if (
        not isinstance(bundle, dict)
        or bundle.get("type") != "bundle"
        or not isinstance(bundle.get("objects"), list)
    ):
        raise Invalid("file", "not a STIX bundle (a JSON object of type 'bundle' with objects)")
    return bundle


def _attack_ref(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for ref in obj.get("external_references") or ():
        if ref.get("source_name") in ATTACK_SOURCES and ref.get("external_id"):
            return str(ref["external_id"]), ref.get("url")
    return None, None


def _status(obj: Mapping[str, Any]) -> str:
    if obj.get("revoked"):
        return "revoked"
    if obj.get("x_mitre_deprecated"):
        return "deprecated"
    return "active"


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _sha(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def _merge_items(old: Any, new: list[dict[str, Any]], domain: str) -> list[Any]:
    """``new`` in place of this domain's imported items; everything else in ``old`` kept."""
    analyst, imported = [], []
    for item in old if isinstance(old, list) else []:
        if not (isinstance(item, dict) and "attack_id" in item):
            analyst.append(item)
        elif item.get("domain") != domain:
            imported.append(item)
    # A fixed order, so importing the domains in another order changes nothing.
    imported.sort(key=lambda i: (str(i.get("domain")), str(i["attack_id"])))
    mine = sorted(new, key=lambda i: str(i["attack_id"]))
    return analyst + sorted(imported + mine, key=lambda i: str(i.get("domain")))


def _domain(objects: list[dict[str, Any]]) -> str:
    seen: Counter[str] = Counter()
    for obj in objects:
        if obj.get("type") in ("x-mitre-matrix", "x-mitre-tactic", "attack-pattern"):
            seen.update(obj.get("x_mitre_domains") or ())
    if not seen:
        raise Invalid("file", "the bundle holds no ATT&CK matrix, tactic or technique")
    return seen.most_common(1)[0][0]


@dataclass
class _Bundle:
    """The bundle indexed once: objects by type and STIX id, relationships by kind."""

    domain: str
    objects: list[dict[str, Any]]
    by_type: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    uses: dict[str, list[tuple[str, str | None]]] = field(default_factory=lambda: defaultdict(list))
    attributed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    revoked_by: dict[str, str] = field(default_factory=dict)
    detected_by: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    flagged_relationships: int = 0

    @classmethod
    def index(cls, bundle: dict[str, Any]) -> _Bundle:
        objects = [o for o in bundle["objects"] if isinstance(o, dict)]
        indexed = cls(domain=_domain(objects), objects=objects)
        for obj in objects:
            kind = obj.get("type")
            if kind == "relationship":
                indexed._relate(obj)
            elif isinstance(kind, str) and isinstance(obj.get("id"), str):
                indexed.by_type[kind].append(obj)
                indexed.by_id[obj["id"]] = obj
        return indexed

    def _relate(self, rel: dict[str, Any]) -> None:
        if _status(rel) != "active":
            self.flagged_relationships += 1
            return
        kind, source, target = (
            rel.get("relationship_type"),
            rel.get("source_ref"),
            rel.get("target_ref"),
        )
        if not isinstance(source, str) or not isinstance(target, str):
            return
        if kind == "uses":
            self.uses[source].append((target, rel.get("description")))
        elif kind == "attributed-to":
            self.attributed[source].append(target)
        elif kind == "revoked-by":
            self.revoked_by[source] = target
        elif kind == "detects":
            self.detected_by[target].append(source)

    def attack_id(self, stix_id: str) -> str | None:
        obj = self.by_id.get(stix_id)
        return _attack_ref(obj)[0] if obj is not None else None

    def used(self, stix_id: str, types: Iterable[str]) -> list[tuple[dict[str, Any], str | None]]:
        """The objects of these types that ``stix_id`` uses, with what ATT&CK says was done."""
        wanted = set(types)
        found = []
        for target, description in self.uses.get(stix_id, ()):
            obj = self.by_id.get(target)
            if obj is not None and obj.get("type") in wanted and _attack_ref(obj)[0]:
                found.append((obj, description))
        return found


def _ref_item(obj: Mapping[str, Any], domain: str, **extra: Any) -> dict[str, Any]:
    attack_id, _ = _attack_ref(obj)
    return {"attack_id": attack_id, "name": obj.get("name"), **extra, "domain": domain}


def _by_attack_id(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    unique = {item["attack_id"]: item for item in items}
    return [unique[key] for key in sorted(unique)]


def _active_first(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    # An id held by a live object and a revoked one goes to the live one.
    return sorted(objects, key=lambda o: _status(o) != "active")


# --- The import -----------------------------------------------------------------------------


@dataclass
class _Run:
    session: Session
    bundle: _Bundle
    summary: ImportSummary
    previous: dict[str, Any]
    catalog: dict[str, Any]
    tactic_order: dict[str, int] = field(default_factory=dict)
    actor_ids: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return self.bundle.domain

    def count(self, counts: ImportCounts, *, created: bool, changed: bool, status: str) -> None:
        if created:
            counts.created += 1
        elif changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
        if status != "active":
            counts.revoked += 1

    def links(self, old: Iterable[str], new: Iterable[str]) -> None:
        before, after = set(old), set(new)
        counts = self.summary.relationships
        counts.created += len(after - before)
        counts.unchanged += len(after & before)
        counts.removed += len(before - after)


def import_attack(
    session: Session,
    *,
    bundle: Mapping[str, Any] | str | Path,
    actor: Actor,
    on_progress: Callable[[str], None] | None = None,
) -> ImportSummary:
    """Load one ATT&CK bundle into the knowledge tables, updating in place; never commits."""
    started = time.perf_counter()
    report = on_progress or (lambda stage: None)
    loaded = load_bundle(bundle)
    indexed = _Bundle.index(loaded)
    collection = next(iter(indexed.by_type.get("x-mitre-collection", ())), {})
    summary = ImportSummary(
        domain=indexed.domain,
        attack_version=collection.get("x_mitre_version"),
        spec_version=loaded.get("spec_version") or collection.get("spec_version"),
        objects=len(indexed.objects),
    )
    key = CATALOG_PREFIX + indexed.domain
    entry = session.get(SystemConfiguration, key)
    previous = entry.value if entry is not None and isinstance(entry.value, dict) else {}
    run = _Run(
        session=session,
        bundle=indexed,
        summary=summary,
        previous=previous,
        catalog={
            "domain": indexed.domain,
            "attack_version": summary.attack_version,
            "spec_version": summary.spec_version,
            "bundle_id": loaded.get("id"),
        },
    )
    report("read")
    _import_tactics(run)
    _import_techniques(run)
    report("techniques")
    _import_groups(run)
    report("groups")
    _import_campaigns(run)
    report("campaigns")
    _import_software(run)
    summary.relationships.revoked = indexed.flagged_relationships
    report("software")
    # Actors and campaigns meet their techniques in the one graph.
    sync_attack_edges(session)
    run.catalog["imported_at"] = utcnow().isoformat()
    _save_catalog(session, key=key, entry=entry, value=run.catalog)
    summary.duration_s = round(time.perf_counter() - started, 3)
    audit.record(
        session,
        actor=actor,
        action="attack.import",
        resource_type="mitre_attack",
        resource_id=indexed.domain,
        details=summary.model_dump(mode="json", exclude={"warnings"})
        | {"warnings": summary.warnings[:20]},
    )
    session.flush()
    report("save")
    log.info(
        "attack import domain=%s objects=%d techniques=%s groups=%s in %.2fs",
        indexed.domain,
        summary.objects,
        summary.techniques.model_dump(),
        summary.groups.model_dump(),
        summary.duration_s,
    )
    return summary


def _import_tactics(run: _Run) -> None:
    tactics: dict[str, dict[str, Any]] = {}
    matrices = run.bundle.by_type.get("x-mitre-matrix", [])
    order = [ref for matrix in matrices for ref in matrix.get("tactic_refs") or ()]
    position = {stix_id: i for i, stix_id in enumerate(order)}
    found = sorted(
        run.bundle.by_type.get("x-mitre-tactic", []),
        key=lambda o: (position.get(o["id"], len(position)), o.get("name") or ""),
    )
    for obj in found:
        attack_id, url = _attack_ref(obj)
        shortname = obj.get("x_mitre_shortname")
        if not attack_id or not shortname:
            continue
        run.tactic_order.setdefault(shortname, len(run.tactic_order))
        tactics[attack_id] = {
            "shortname": shortname,
            "name": obj.get("name"),
            "stix_id": obj["id"],
            "url": url,
            "status": _status(obj),
        }
    old = run.previous.get("tactics") or {}
    for attack_id, item in tactics.items():
        run.count(
            run.summary.tactics,
            created=attack_id not in old,
            changed=old.get(attack_id) != item,
            status=item["status"],
        )
    run.catalog["tactics"] = tactics


def _data_components(bundle: _Bundle) -> dict[str, set[str]]:
    """Detection strategy STIX id → the data component names its analytics read (v18 on)."""
    sources = {o["id"]: o.get("name") for o in bundle.by_type.get("x-mitre-data-source", [])}
    components: dict[str, str] = {}
    for obj in bundle.by_type.get("x-mitre-data-component", []):
        source = sources.get(obj.get("x_mitre_data_source_ref") or "")
        components[obj["id"]] = f"{source}: {obj.get('name')}" if source else str(obj.get("name"))
    analytics: dict[str, set[str]] = {}
    for obj in bundle.by_type.get("x-mitre-analytic", []):
        analytics[obj["id"]] = {
            components[ref["x_mitre_data_component_ref"]]
            for ref in obj.get("x_mitre_log_source_references") or ()
            if ref.get("x_mitre_data_component_ref") in components
        }
    return {
        obj["id"]: set().union(
            *(analytics.get(a, set()) for a in obj.get("x_mitre_analytic_refs") or ())
        )
        for obj in bundle.by_type.get("x-mitre-detection-strategy", [])
    }


def _import_techniques(run: _Run) -> None:
    bundle = run.bundle
    strategies = _data_components(bundle)
    rows: dict[str, dict[str, Any]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for obj in _active_first(bundle.by_type.get("attack-pattern", [])):
        technique_id, url = _attack_ref(obj)
        if not technique_id or technique_id in rows:
            continue
        phases = {
            p["phase_name"]
            for p in obj.get("kill_chain_phases") or ()
            if str(p.get("kill_chain_name", "")).startswith("mitre-") and p.get("phase_name")
        }
        tactics = sorted(phases, key=lambda name: (run.tactic_order.get(name, 99), name))
        data_sources = obj.get("x_mitre_data_sources") or sorted(
            set().union(*(strategies.get(s, set()) for s in bundle.detected_by.get(obj["id"], ())))
        )
        rows[technique_id] = {
            "technique_id": technique_id,
            "technique_name": str(obj.get("name") or technique_id)[:255],
            "description": obj.get("description") or None,
            "tactic": TACTIC_SEPARATOR.join(tactics)[:255] or None,
            "data_sources": list(data_sources),
            "platforms": list(obj.get("x_mitre_platforms") or ()),
            "defenses_bypassed": list(obj.get("x_mitre_defense_bypassed") or ()),
        }
        replacement = bundle.revoked_by.get(obj["id"])
        entries[technique_id] = {
            "stix_id": obj["id"],
            "status": _status(obj),
            "revoked_by": bundle.attack_id(replacement) if replacement else None,
            "url": url,
            "subtechnique": bool(obj.get("x_mitre_is_subtechnique")) or "." in technique_id,
            "version": obj.get("x_mitre_version"),
            "modified": obj.get("modified"),
        }
    table = cast(Table, MitreTechnique.__table__)
    existing = {
        row.technique_id: row
        for row in run.session.execute(
            select(*(table.c[c] for c in ("technique_id", *TECHNIQUE_COLUMNS)))
        )
    }
    old_entries = run.previous.get("techniques") or {}
    inserts, updates = [], []
    for technique_id, row in rows.items():
        entry = entries[technique_id]
        counts = run.summary.subtechniques if entry["subtechnique"] else run.summary.techniques
        current = existing.get(technique_id)
        changed = current is not None and (
            any(getattr(current, c) != row[c] for c in TECHNIQUE_COLUMNS)
            or old_entries.get(technique_id) != entry
        )
        run.count(counts, created=current is None, changed=changed, status=entry["status"])
        if current is None:
            inserts.append(row)
        elif changed:
            updates.append({"b_id": technique_id, **{f"v_{c}": row[c] for c in TECHNIQUE_COLUMNS}})
    if inserts:
        run.session.execute(insert(table), inserts)
    if updates:
        run.session.execute(
            update(table)
            .where(table.c.technique_id == bindparam("b_id"))
            .values({c: bindparam(f"v_{c}") for c in TECHNIQUE_COLUMNS}),
            updates,
        )
    run.catalog["techniques"] = entries


def _import_groups(run: _Run) -> None:
    bundle, domain, session = run.bundle, run.domain, run.session
    table = cast(Table, ThreatActor.__table__)
    existing = {
        row.id: row
        for row in session.execute(select(table.c.id, *(table.c[c] for c in ACTOR_COLUMNS)))
    }
    by_stix: dict[str, uuid.UUID] = {}
    by_name: dict[str, uuid.UUID] = {}
    for row in existing.values():
        owner = (
            row.attribution_data.get(OWNER_KEY) if isinstance(row.attribution_data, dict) else None
        )
        if isinstance(owner, dict) and owner.get("stix_id"):
            by_stix[owner["stix_id"]] = row.id
        by_name[row.actor_name.lower()] = row.id
    campaigns_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for campaign in bundle.by_type.get("campaign", []):
        for group in bundle.attributed.get(campaign["id"], ()):
            if _attack_ref(campaign)[0]:
                campaigns_of[group].append(_ref_item(campaign, domain))
    inserts, updates = [], []
    for obj in _active_first(bundle.by_type.get("intrusion-set", [])):
        attack_id, url = _attack_ref(obj)
        name = str(obj.get("name") or "")[:255]
        if not attack_id or not name:
            continue
        row_id = by_stix.get(obj["id"])
        name_holder = by_name.get(name.lower())
        if row_id is None and name_holder is not None:
            holder = existing.get(name_holder)
            held = holder.attribution_data if holder is not None else None
            if isinstance(held, dict) and isinstance(held.get(OWNER_KEY), dict):
                # Another ATT&CK group already holds the name (in this or an earlier import).
                run.summary.warnings.append(f"group {attack_id} {name!r}: name taken, skipped")
                continue
            row_id = name_holder  # an actor an analyst made by hand: adopt it
        current = existing.get(row_id) if row_id is not None else None
        techniques = _by_attack_id(
            _ref_item(t, domain) for t, _ in bundle.used(obj["id"], ("attack-pattern",))
        )
        software = _by_attack_id(
            _ref_item(s, domain, type=s["type"]) for s, _ in bundle.used(obj["id"], SOFTWARE_TYPES)
        )
        old_data = (
            dict(current.attribution_data)
            if current is not None and isinstance(current.attribution_data, dict)
            else {}
        )
        found_owner = old_data.get(OWNER_KEY)
        old_owner: dict[str, Any] = found_owner if isinstance(found_owner, dict) else {}
        old_block = (old_owner.get("domains") or {}).get(domain) or {}
        run.links(
            (
                f"{i['attack_id']}"
                for i in (old_block.get("techniques") or []) + (old_block.get("software") or [])
            ),
            (i["attack_id"] for i in techniques + software),
        )
        aliases = [str(a) for a in obj.get("aliases") or ()]
        replacement = bundle.revoked_by.get(obj["id"])
        owner = {
            "attack_id": attack_id,
            "stix_id": obj["id"],
            "url": url,
            "status": _status(obj),
            "revoked_by": bundle.attack_id(replacement) if replacement else None,
            "version": obj.get("x_mitre_version"),
            "modified": obj.get("modified"),
            "aliases": aliases,
            "description_sha256": _sha(obj.get("description")),
            "domains": {
                **(old_owner.get("domains") or {}),
                domain: {
                    "techniques": [
                        {k: v for k, v in t.items() if k != "domain"} for t in techniques
                    ],
                    "software": [{k: v for k, v in s.items() if k != "domain"} for s in software],
                    "campaigns": [
                        {k: v for k, v in c.items() if k != "domain"}
                        for c in _by_attack_id(campaigns_of.get(obj["id"], []))
                    ],
                },
            },
        }
        values: dict[str, Any] = {
            "actor_name": name,
            "aliases": _merged_aliases(
                current.aliases if current else None, old_owner.get("aliases"), aliases
            ),
            "description": _owned_text(
                current.description if current else None,
                old_owner.get("description_sha256"),
                obj.get("description"),
            ),
            "known_tools": _merge_items(current.known_tools if current else None, software, domain),
            "attribution_data": {**old_data, OWNER_KEY: owner},
            "first_observed": (current.first_observed if current else None)
            or _when(obj.get("first_seen")),
            "last_observed": (current.last_observed if current else None)
            or _when(obj.get("last_seen")),
        }
        if current is not None and current.actor_name != name:
            holder_id = by_name.get(name.lower())
            if holder_id is not None and holder_id != current.id:
                run.summary.warnings.append(
                    f"group {attack_id}: renamed to {name!r}, which is taken; "
                    f"kept {current.actor_name!r}"
                )
                values["actor_name"] = current.actor_name
        changed = current is not None and any(
            getattr(current, c) != values[c] for c in ACTOR_COLUMNS
        )
        run.count(
            run.summary.groups, created=current is None, changed=changed, status=owner["status"]
        )
        if current is None:
            row_id = uuid.uuid4()
            # The schema makes these NOT NULL; ATT&CK says nothing of them.
            inserts.append({"id": row_id, **values, **{key: [] for key in UNSTATED_ACTOR_FIELDS}})
        elif changed:
            updates.append({"b_id": current.id, **{f"v_{c}": values[c] for c in ACTOR_COLUMNS}})
        assert row_id is not None
        run.actor_ids[obj["id"]] = row_id
        by_stix[obj["id"]] = row_id
        by_name[values["actor_name"].lower()] = row_id
        if current is None:
            existing[row_id] = _Shadow(id=row_id, **values)  # type: ignore[assignment]
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"v_{c}") for c in ACTOR_COLUMNS}),
            updates,
        )


@dataclass
class _Shadow:
    """A row inserted by this import, standing in for it in later look-ups."""

    id: uuid.UUID
    actor_name: str
    aliases: Any = None
    description: Any = None
    known_tools: Any = None
    attribution_data: Any = None
    first_observed: Any = None
    last_observed: Any = None


def _merged_aliases(current: Any, previous_attack: Any, attack: list[str]) -> list[str] | None:
    """ATT&CK's aliases, plus any an analyst added (those ATT&CK never gave)."""
    dropped = set(previous_attack or ())
    extra = [a for a in (current or ()) if a not in dropped and a not in attack]
    return (attack + extra) or None


def _owned_text(current: str | None, previous_sha: str | None, attack: str | None) -> str | None:
    """ATT&CK's text unless an analyst wrote their own (it differs from what ATT&CK gave)."""
    if not current or _sha(current) == previous_sha:
        return attack or current
    return current


def _import_campaigns(run: _Run) -> None:
    bundle, domain, session = run.bundle, run.domain, run.session
    table = cast(Table, ThreatCampaign.__table__)
    existing = {
        row.id: row
        for row in session.execute(select(table.c.id, *(table.c[c] for c in CAMPAIGN_COLUMNS)))
    }
    by_name = {row.campaign_name.lower(): row.id for row in existing.values()}
    old_entries = run.previous.get("campaigns") or {}
    tactics_by_name = {
        t["shortname"]: (a, t) for a, t in (run.catalog.get("tactics") or {}).items()
    }
    entries: dict[str, dict[str, Any]] = {}
    inserts, updates = [], []
    for obj in _active_first(bundle.by_type.get("campaign", [])):
        attack_id, url = _attack_ref(obj)
        name = str(obj.get("name") or "")[:255]
        if not attack_id or not name or attack_id in entries:
            continue
        old_entry = old_entries.get(attack_id) or {}
        row_id = None
        if old_entry.get("row_id"):
            try:
                row_id = uuid.UUID(old_entry["row_id"])
            except ValueError:
                row_id = None
        if row_id not in existing:
            row_id = by_name.get(name.lower())
        current = existing.get(row_id) if row_id is not None else None
        if current is None and name.lower() in by_name:
            run.summary.warnings.append(f"campaign {attack_id} {name!r}: name taken, skipped")
            continue
        used_techniques = bundle.used(obj["id"], ("attack-pattern",))
        used_software = bundle.used(obj["id"], SOFTWARE_TYPES)
        techniques = _by_attack_id(_ref_item(t, domain) for t, _ in used_techniques)
        shortnames = {
            p["phase_name"]
            for t, _ in used_techniques
            for p in t.get("kill_chain_phases") or ()
            if p.get("phase_name") in tactics_by_name
        }
        tactics = [
            {
                "attack_id": tactics_by_name[s][0],
                "name": tactics_by_name[s][1]["name"],
                "shortname": s,
                "domain": domain,
            }
            for s in sorted(shortnames, key=lambda s: run.tactic_order.get(s, 99))
        ]
        procedures = sorted(
            (
                _ref_item(
                    o,
                    domain,
                    type="technique" if o["type"] == "attack-pattern" else o["type"],
                    description=d,
                )
                for o, d in used_techniques + used_software
            ),
            key=lambda item: (item["attack_id"], item.get("description") or ""),
        )
        groups = [
            _ref_item(bundle.by_id[g], domain, actor_id=str(run.actor_ids[g]))
            for g in bundle.attributed.get(obj["id"], ())
            if g in run.actor_ids and g in bundle.by_id
        ]
        old_links = [
            i["attack_id"]
            for i in (
                current.procedures if current and isinstance(current.procedures, list) else []
            )
            if isinstance(i, dict) and i.get("domain") == domain and "attack_id" in i
        ]
        old_links += [
            f"attributed:{i['attack_id']}"
            for i in (
                current.attributed_actors
                if current and isinstance(current.attributed_actors, list)
                else []
            )
            if isinstance(i, dict) and i.get("domain") == domain and "attack_id" in i
        ]
        run.links(
            old_links,
            [p["attack_id"] for p in procedures] + [f"attributed:{g['attack_id']}" for g in groups],
        )
        values: dict[str, Any] = {
            "campaign_name": name,
            "description": _owned_text(
                current.description if current else None,
                old_entry.get("description_sha256"),
                obj.get("description"),
            ),
            "first_observed": _when(obj.get("first_seen"))
            or (current.first_observed if current else None),
            "last_observed": _when(obj.get("last_seen"))
            or (current.last_observed if current else None),
            "tactics": _merge_items(current.tactics if current else None, tactics, domain),
            "techniques": _merge_items(current.techniques if current else None, techniques, domain),
            "procedures": _merge_items(current.procedures if current else None, procedures, domain),
            "attributed_actors": _merge_items(
                current.attributed_actors if current else None, _by_attack_id(groups), domain
            ),
        }
        if (
            current is not None
            and current.campaign_name != name
            and by_name.get(name.lower(), current.id) != current.id
        ):
            run.summary.warnings.append(
                f"campaign {attack_id}: renamed to {name!r}, which is taken; "
                f"kept {current.campaign_name!r}"
            )
            values["campaign_name"] = current.campaign_name
        replacement = bundle.revoked_by.get(obj["id"])
        entry = {
            "row_id": None,
            "stix_id": obj["id"],
            "status": _status(obj),
            "revoked_by": bundle.attack_id(replacement) if replacement else None,
            "url": url,
            "aliases": list(obj.get("aliases") or ()),
            "version": obj.get("x_mitre_version"),
            "modified": obj.get("modified"),
            "description_sha256": _sha(obj.get("description")),
        }
        changed = current is not None and (
            any(getattr(current, c) != values[c] for c in CAMPAIGN_COLUMNS)
            or {**old_entry, "row_id": None} != entry
        )
        run.count(
            run.summary.campaigns, created=current is None, changed=changed, status=entry["status"]
        )
        if current is None:
            row_id = uuid.uuid4()
            inserts.append({"id": row_id, **values})
        elif changed:
            updates.append({"b_id": current.id, **{f"v_{c}": values[c] for c in CAMPAIGN_COLUMNS}})
        entry["row_id"] = str(row_id)
        entries[attack_id] = entry
        by_name[values["campaign_name"].lower()] = row_id
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"v_{c}") for c in CAMPAIGN_COLUMNS}),
            updates,
        )
    run.catalog["campaigns"] = entries


def _import_software(run: _Run) -> None:
    bundle = run.bundle
    old = run.previous.get("software") or {}
    software: dict[str, dict[str, Any]] = {}
    for kind in sorted(SOFTWARE_TYPES):
        for obj in _active_first(bundle.by_type.get(kind, [])):
            attack_id, url = _attack_ref(obj)
            if not attack_id or attack_id in software:
                continue
            replacement = bundle.revoked_by.get(obj["id"])
            software[attack_id] = {
                "name": obj.get("name"),
                "type": kind,
                "aliases": list(obj.get("x_mitre_aliases") or ()),
                "platforms": list(obj.get("x_mitre_platforms") or ()),
                "stix_id": obj["id"],
                "status": _status(obj),
                "revoked_by": bundle.attack_id(replacement) if replacement else None,
                "url": url,
                "version": obj.get("x_mitre_version"),
                "modified": obj.get("modified"),
                "techniques": sorted(
                    {
                        _attack_ref(t)[0] or ""
                        for t, _ in bundle.used(obj["id"], ("attack-pattern",))
                    }
                ),
            }
    for attack_id, item in software.items():
        before = old.get(attack_id)
        run.links((before or {}).get("techniques") or (), item["techniques"])
        run.count(
            run.summary.software,
            created=before is None,
            changed=before != item,
            status=item["status"],
        )
    run.catalog["software"] = software


def _save_catalog(
    session: Session, *, key: str, entry: SystemConfiguration | None, value: dict[str, Any]
) -> None:
    if entry is None:
        session.add(
            SystemConfiguration(
                key=key,
                value=value,
                category=ConfigCategory.INTEGRATION,
                description="MITRE ATT&CK as last imported (krsn attack import): tactics, "
                "software, and each technique's STIX id and status.",
            )
        )
    else:
        entry.value = value


# --- Reading --------------------------------------------------------------------------------


def attack_catalogs(session: Session) -> dict[str, dict[str, Any]]:
    """Each imported domain's ATT&CK catalog (tactics, software, technique status), by domain."""
    entries = session.scalars(
        select(SystemConfiguration).where(SystemConfiguration.key.like(f"{CATALOG_PREFIX}%"))
    )
    return {
        entry.key.removeprefix(CATALOG_PREFIX): entry.value
        for entry in entries
        if isinstance(entry.value, dict)
    }


def _technique_entries(catalogs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for domain, catalog in catalogs.items():
        for technique_id, entry in (catalog.get("techniques") or {}).items():
            if isinstance(entry, dict):
                found[technique_id] = {**entry, "domain": domain}
    return found


def _split(tactic: str | None) -> list[str]:
    return [t for t in (tactic or "").split(TACTIC_SEPARATOR) if t]


def resolve_tactic(session: Session, tactic: str) -> str:
    """A tactic's short name from its short name, its name or its ATT&CK id (TA0005)."""
    wanted = tactic.strip()
    known: dict[str, str] = {}
    for catalog in attack_catalogs(session).values():
        for attack_id, item in (catalog.get("tactics") or {}).items():
            shortname = str(item.get("shortname"))
            for alias in (attack_id, shortname, str(item.get("name"))):
                known[alias.lower()] = shortname
    if wanted.lower() in known:
        return known[wanted.lower()]
    shortname = wanted.lower().replace(" ", "-")
    if not _TACTIC_NAME.match(shortname) or (known and shortname not in known.values()):
        choices = ", ".join(sorted(set(known.values()))) or "none imported yet"
        raise Invalid("tactic", f"unknown tactic {tactic!r}; known: {choices}")
    return shortname


def list_techniques(
    session: Session, *, tactic: str | None = None, include_flagged: bool = False
) -> list[TechniqueRead]:
    """Techniques and sub-techniques by id, of one tactic if given; flagged ones on request."""
    table = cast(Table, MitreTechnique.__table__)
    statement = select(
        table.c.technique_id, table.c.technique_name, table.c.tactic, table.c.platforms
    ).order_by(table.c.technique_id)
    if tactic is not None:
        name = resolve_tactic(session, tactic)
        column = table.c.tactic
        statement = statement.where(
            or_(
                column == name,
                column.like(f"{name}{TACTIC_SEPARATOR}%"),
                column.like(f"%{TACTIC_SEPARATOR}{name}"),
                column.like(f"%{TACTIC_SEPARATOR}{name}{TACTIC_SEPARATOR}%"),
            )
        )
    entries = _technique_entries(attack_catalogs(session))
    found = []
    for row in session.execute(statement):
        entry = entries.get(row.technique_id) or {}
        status = str(entry.get("status") or "active")
        if status != "active" and not include_flagged:
            continue
        found.append(
            TechniqueRead(
                technique_id=row.technique_id,
                technique_name=row.technique_name,
                tactics=_split(row.tactic),
                platforms=list(row.platforms or ()),
                is_subtechnique=bool(entry.get("subtechnique", "." in row.technique_id)),
                status=status,
                domain=entry.get("domain"),
            )
        )
    return found


def get_technique(session: Session, technique_id: str) -> TechniqueDetail:
    """One technique with its tactics, parent or sub-techniques, and the groups using it."""
    wanted = technique_id.strip().upper()
    row = session.get(MitreTechnique, wanted) if _TECHNIQUE_ID.match(wanted) else None
    if row is None:
        raise NotFound(
            f"No ATT&CK technique {technique_id!r}; import one with 'krsn attack import'."
        )
    catalogs = attack_catalogs(session)
    entry = _technique_entries(catalogs).get(wanted) or {}
    parent = None
    if "." in wanted:
        found = session.get(MitreTechnique, wanted.split(".")[0])
        if found is not None:
            parent = TechniqueRef(attack_id=found.technique_id, name=found.technique_name)
    children = session.execute(
        select(MitreTechnique.technique_id, MitreTechnique.technique_name)
        .where(MitreTechnique.technique_id.like(f"{wanted}.%"))
        .order_by(MitreTechnique.technique_id)
    )
    groups = []
    for actor_id, actor_name, data in session.execute(
        select(ThreatActor.id, ThreatActor.actor_name, ThreatActor.attribution_data)
    ):
        owner = data.get(OWNER_KEY) if isinstance(data, dict) else None
        if not isinstance(owner, dict):
            continue
        for block in (owner.get("domains") or {}).values():
            if any(t.get("attack_id") == wanted for t in block.get("techniques") or ()):
                groups.append(
                    TechniqueRef(
                        attack_id=str(owner.get("attack_id")),
                        name=actor_name,
                        actor_id=str(actor_id),
                    )
                )
                break
    software = [
        TechniqueRef(attack_id=attack_id, name=str(item.get("name")), type=item.get("type"))
        for catalog in catalogs.values()
        for attack_id, item in (catalog.get("software") or {}).items()
        if wanted in (item.get("techniques") or ())
    ]
    links = session.scalar(
        select(func.count())
        .select_from(IndicatorTechnique)
        .where(IndicatorTechnique.technique_id == wanted)
    )
    return TechniqueDetail(
        technique_id=row.technique_id,
        technique_name=row.technique_name,
        tactics=_split(row.tactic),
        platforms=list(row.platforms or ()),
        is_subtechnique=bool(entry.get("subtechnique", "." in wanted)),
        status=str(entry.get("status") or "active"),
        domain=entry.get("domain"),
        description=row.description,
        url=entry.get("url"),
        stix_id=entry.get("stix_id"),
        revoked_by=entry.get("revoked_by"),
        parent=parent,
        subtechniques=[TechniqueRef(attack_id=i, name=n) for i, n in children],
        data_sources=list(row.data_sources or ()),
        defenses_bypassed=list(row.defenses_bypassed or ()),
        groups=sorted(groups, key=lambda g: g.attack_id),
        software=sorted(software, key=lambda s: s.attack_id),
        analyst_links=int(links or 0),
        indicator_count=int(links or 0),
    )
