"""Collectors are found through entry points, built-ins and third-party ones alike: a plugin
is added under its own name within a category, or replaces a built-in by taking its name."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from krsn.errors import Invalid
from krsn.osint.collectors import registry
from krsn.osint.collectors.base import CollectorContext
from krsn.osint.models import CollectorType

MODULE = "acme_fediverse"


def _plugin(collector_type: str = "CollectorType.SOCIAL_MEDIA") -> str:
    """A third party's collector module, declaring ``collector_type``."""
    return textwrap.dedent(
        f"""
        from collections.abc import Iterator
        from typing import ClassVar

        from pydantic import BaseModel

        from krsn.osint.collectors.base import Collected, CollectorContext
        from krsn.osint.models import CollectorType


        class FediConfig(BaseModel):
            server: str


        class FediverseCollector:
            collector_type: ClassVar[CollectorType] = {collector_type}
            Config: ClassVar[type[BaseModel]] = FediConfig
            description: ClassVar[str] = "Posts from any fediverse server."

            def collect(
                self, config: BaseModel, context: CollectorContext
            ) -> Iterator[Collected]:
                yield Collected(item_type="post", raw={{"server": config.server}}, text="hello")
        """
    )


Install = Callable[[str, str], None]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Installs a distribution of one module with entry points, then asks the registry again."""

    def installed(source: str, entry_points: str) -> None:
        (tmp_path / f"{MODULE}.py").write_text(source)
        info = tmp_path / f"{MODULE}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[krsn.collectors]\n{entry_points}\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        registry.refresh()

    registry.refresh()
    yield installed
    sys.modules.pop(MODULE, None)
    registry.refresh()


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    registry.refresh()
    yield
    registry.refresh()


def test_every_category_has_a_built_in_collector_under_its_name(fresh_registry: None) -> None:
    found = registry.available()
    assert set(CollectorType) <= set(found)
    for kind in CollectorType:
        cls = found[kind.value]
        assert cls.collector_type is kind
        assert cls.__module__.startswith("krsn.osint.collectors.")
        assert cls.description
        # A category stands for its built-in, as callers passing a CollectorType expect.
        assert type(registry.get(kind)) is cls
        assert registry.category(kind.value) is kind
    described = {d["name"]: d for d in registry.describe()}
    for kind in CollectorType:
        assert described[kind.value]["collector_type"] == kind.value
        assert described[kind.value]["default"] is True


def test_an_unknown_collector_name_is_invalid_naming_the_installed_ones(
    fresh_registry: None,
) -> None:
    with pytest.raises(Invalid) as refused:
        registry.get("carrier_pigeon")
    assert refused.value.field == "collector"
    assert "carrier_pigeon" in refused.value.reason
    assert "domain_intel" in refused.value.reason
    with pytest.raises(Invalid) as again:
        registry.validate_config("carrier_pigeon", {}, field="collector_type")
    assert again.value.field == "collector_type"


def test_a_config_is_checked_by_its_collectors_model(fresh_registry: None) -> None:
    config = registry.validate_config("domain_intel", {"domain": "WWW.Example.COM."})
    assert config.domain == "www.example.com"  # type: ignore[attr-defined]
    with pytest.raises(Invalid) as refused:
        registry.validate_config("domain_intel", {"domain": "not a domain"})
    assert refused.value.field == "config.domain"


def test_a_third_party_collector_is_added_beside_the_built_in_of_its_category(
    install: Install,
) -> None:
    install(_plugin(), f"fediverse = {MODULE}:FediverseCollector")
    found = registry.available()
    assert found["fediverse"].__module__ == MODULE
    # Added, not replacing: the category's built-in is still there and still its default.
    assert found["social_media"].__module__ == "krsn.osint.collectors.social_media"
    assert type(registry.get(CollectorType.SOCIAL_MEDIA)) is found["social_media"]
    assert registry.category("fediverse") is CollectorType.SOCIAL_MEDIA

    plugin = registry.get("fediverse")
    config = registry.validate_config("fediverse", {"server": "fedi.example"})
    records = list(plugin.collect(config, CollectorContext(client=None)))  # type: ignore[arg-type]
    assert records[0].raw == {"server": "fedi.example"}

    described = {d["name"]: d for d in registry.describe()}
    assert described["fediverse"]["collector_type"] == "social_media"
    assert described["fediverse"]["default"] is False
    assert described["fediverse"]["module"] == f"{MODULE}:FediverseCollector"
    assert "server" in described["fediverse"]["config_schema"]["properties"]


def test_a_plugin_under_a_categorys_name_replaces_that_built_in(install: Install) -> None:
    install(_plugin(), f"social_media = {MODULE}:FediverseCollector")
    plugin = registry.get("social_media")
    assert type(plugin).__module__ == MODULE
    assert type(registry.get(CollectorType.SOCIAL_MEDIA)) is type(plugin)
    assert registry.validate_config("social_media", {"server": "x"}).server == "x"  # type: ignore[attr-defined]


def test_a_plugin_of_an_unknown_category_is_skipped_and_logged(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    install(_plugin('"carrier_pigeon"'), f"pigeon = {MODULE}:FediverseCollector")
    with caplog.at_level(logging.WARNING, logger="krsn.osint.collectors.registry"):
        found = registry.available()
    assert "pigeon" not in found
    assert set(CollectorType) <= set(found)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "collector pigeon" in messages
    assert "'carrier_pigeon' is not one of" in messages
    with pytest.raises(Invalid):
        registry.get("pigeon")


def test_a_plugin_taking_another_categorys_name_is_skipped(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    # Collections of `news` without a collector run the one named news: it must serve news.
    install(_plugin(), f"news = {MODULE}:FediverseCollector")
    with caplog.at_level(logging.WARNING, logger="krsn.osint.collectors.registry"):
        found = registry.available()
    assert found["news"].__module__ == "krsn.osint.collectors.news"
    assert "registered under a category's name but declares social_media" in " ".join(
        r.getMessage() for r in caplog.records
    )


def test_broken_plugins_are_skipped_and_logged(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    install(
        "raise RuntimeError('half-installed')\n",
        f"news = {MODULE}:Nope\npager = {MODULE}:Nope\n",
    )
    with caplog.at_level(logging.WARNING, logger="krsn.osint.collectors.registry"):
        found = registry.available()
    assert found["news"].__module__ == "krsn.osint.collectors.news"
    assert "pager" not in found
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "failed to load" in messages
