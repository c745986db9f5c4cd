"""Fixtures of the collection tests: a third-party collector installed for real (a
distribution with an entry point, found through the registry), owners, the command line."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from krsn.db import Database
from krsn.osint.collectors import registry
from krsn.osint.models import CollectorType

PLUGIN_MODULE = "krsn_scripted_collector"
PLUGIN_NAME = "acme_feed"

# A plugin as a third party would ship it: registered under its own name in the `custom`
# category, added beside the built-in `custom` collector; it does what its config says, so
# runs can be steered.
PLUGIN_SOURCE = textwrap.dedent(
    '''
    """A collector that yields numbered records, slowly, forever or failing, on request."""

    import time

    from pydantic import BaseModel, ConfigDict, Field

    from krsn.osint.collectors.base import Collected
    from krsn.osint.collectors.http import CollectorError
    from krsn.osint.models import CollectorType


    class ScriptedCollector:
        collector_type = CollectorType.CUSTOM
        description = "Yields numbered records as its config says (a test plugin)."

        class Config(BaseModel):
            model_config = ConfigDict(extra="forbid")

            count: int = Field(3, ge=0)
            delay: float = 0.0
            forever: bool = False
            fail_at: int | None = None
            crash_at: int | None = None
            prefix: str = "rec"

        def collect(self, config, context):
            index = 0
            while config.forever or index < config.count:
                context.check()
                if config.fail_at == index:
                    raise CollectorError(f"{config.prefix}.example answered HTTP 503: try later")
                if config.crash_at == index:
                    raise RuntimeError("scripted crash")
                if config.delay:
                    time.sleep(config.delay)
                yield Collected(
                    item_type="note",
                    raw={"prefix": config.prefix, "index": index},
                    text=f"Record {index} names host{index}.{config.prefix}.example.com.",
                )
                index += 1
                context.progress(index, config.count if not config.forever else index * 2)
    '''
)


@pytest.fixture
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scripted collector installed as the plugin ``acme_feed`` (category ``custom``);
    its registered name, what a collection's ``collector`` names."""
    root = tmp_path_factory.mktemp("plugin")
    (root / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE)
    dist = root / "krsn_scripted_collector-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: krsn-scripted-collector\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[krsn.collectors]\n{PLUGIN_NAME} = {PLUGIN_MODULE}:ScriptedCollector\n"
    )
    sys.path.insert(0, str(root))
    registry.refresh()
    try:
        found = registry.available()
        assert found[PLUGIN_NAME].__name__ == "ScriptedCollector"
        # Added, not replacing: the built-in still serves `custom` collections naming none.
        assert found[CollectorType.CUSTOM.value].__module__ == "krsn.osint.collectors.custom"
        yield PLUGIN_NAME
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(PLUGIN_MODULE, None)
        registry.refresh()


@pytest.fixture
def owner(db: Database) -> uuid.UUID:
    """An analyst who owns the collections a test makes."""
    from detection_support import add_user
    from krsn.identity.models import Role

    with db.transaction() as session:
        return add_user(session, "owner", role=Role.ADMIN)
