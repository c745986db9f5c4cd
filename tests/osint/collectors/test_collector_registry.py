"""Collectors are found through entry points, built-ins and third-party ones alike."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from krsn.errors import Invalid
from krsn.osint.collectors import registry
from krsn.osint.collectors.base import CollectorContext
from krsn.osint.models import CollectorType

PLUGIN = """
from collections.abc import Iterator
from typing import ClassVar

from pydantic import BaseModel

from krsn.osint.collectors.base import Collected, CollectorContext
from krsn.osint.models import CollectorType


class FediConfig(BaseModel):
    server: str


class FediverseCollector:
    collector_type: ClassVar[CollectorType] = CollectorType.SOCIAL_MEDIA
    Config: ClassVar[type[BaseModel]] = FediConfig
    description: ClassVar[str] = "Posts from any fediverse server."

    def collect(self, config: BaseModel, context: CollectorContext) -> Iterator[Collected]:
        yield Collected(item_type="post", raw={"server": config.server}, text="hello")
"""


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry.refresh()
    yield
    registry.refresh()


def test_every_collector_type_has_a_built_in_collector(fresh_registry: None) -> None:
    found = registry.available()
    assert set(found) == set(CollectorType)
    for kind, cls in found.items():
        assert cls.collector_type is kind
        assert cls.description
        assert registry.get(kind).collector_type is kind
    assert {d["collector_type"] for d in registry.describe()} == {k.value for k in CollectorType}


def test_an_unknown_collector_type_is_invalid(fresh_registry: None) -> None:
    with pytest.raises(Invalid) as refused:
        registry.get("carrier_pigeon")
    assert refused.value.field == "collector_type"
    assert "domain_intel" in refused.value.reason


def test_a_config_is_checked_by_its_collectors_model(fresh_registry: None) -> None:
    config = registry.validate_config("domain_intel", {"domain": "WWW.Example.COM."})
    assert config.domain == "www.example.com"  # type: ignore[attr-defined]
    with pytest.raises(Invalid) as refused:
        registry.validate_config("domain_intel", {"domain": "not a domain"})
    assert refused.value.field == "config.domain"


def _install(root: Path, module: str, source: str, entry_points: str) -> None:
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_a_third_party_collector_is_one_module_and_one_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry: None
) -> None:
    built_in = registry.get("social_media")
    _install(
        tmp_path,
        "acme_fediverse",
        PLUGIN,
        "[krsn.collectors]\nsocial_media = acme_fediverse:FediverseCollector\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    plugin = registry.get("social_media")
    assert type(plugin).__module__ == "acme_fediverse"
    assert type(plugin) is not type(built_in)
    config = registry.validate_config("social_media", {"server": "fedi.example"})
    records = list(plugin.collect(config, CollectorContext(client=None)))  # type: ignore[arg-type]
    assert records[0].raw == {"server": "fedi.example"}
    monkeypatch.delitem(sys.modules, "acme_fediverse")


def test_broken_or_misnamed_plugins_are_skipped_and_logged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fresh_registry: None,
) -> None:
    _install(
        tmp_path,
        "acme_broken",
        "raise RuntimeError('half-installed')\n",
        "[krsn.collectors]\nnews = acme_broken:Nope\npager = acme_broken:Nope\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    with caplog.at_level(logging.WARNING, logger="krsn.osint.collectors.registry"):
        found = registry.available()
    assert found[CollectorType.NEWS].__module__ == "krsn.osint.collectors.news"
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "failed to load" in messages
    assert "pager is not a collector type" in messages
