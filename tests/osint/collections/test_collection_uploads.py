"""Uploaded files become items with raw documents and entities: text, HTML, PDF and e-mail,
through the service, the REST API and the command line, on both engines."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from krsn.db import Database
from krsn.errors import Invalid
from krsn.identity.audit import Actor
from krsn.osint.collections import service
from krsn.osint.collections.uploads import (
    UnsupportedMediaType,
    Upload,
    read_uploads,
    store_uploads,
)
from krsn.osint.models import CollectionItem, Entity, EntitySource, RawDocument

FILES = Path(__file__).parent / "files"
ACTOR = Actor(user_id=None, via="test")
BASE = "/api/v1/collections"

EXPECTED = {
    "advisory.txt": ("text/plain", "203.0.113.45"),
    "campaign.html": ("text/html", "192.0.2.77"),
    "brief.pdf": ("application/pdf", "203.0.113.200"),
    "lure.eml": ("message/rfc822", "198.51.100.23"),
}


def _collection(db: Database, owner: uuid.UUID) -> uuid.UUID:
    with db.transaction() as session:
        return service.create_collection(
            session,
            actor=ACTOR,
            owner_id=owner,
            values={
                "name": "uploads",
                "collector_type": "domain_intel",
                "config": {"domain": "example.com"},
            },
        ).id


def _upload(db: Database, collection_id: uuid.UUID, *names: str) -> Any:
    files = read_uploads([Upload(filename=n, data=(FILES / n).read_bytes()) for n in names])
    with db.transaction() as session:
        return store_uploads(session, actor=ACTOR, collection_id=collection_id, files=files)


def _entities_of(db: Database, item_id: uuid.UUID) -> set[str]:
    with db.transaction(readonly=True) as session:
        return set(
            session.scalars(
                select(Entity.name)
                .join(EntitySource, EntitySource.entity_id == Entity.id)
                .where(EntitySource.collection_item_id == item_id)
            )
        )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_type_becomes_an_item_a_document_and_entities(
    db: Database, owner: uuid.UUID, name: str
) -> None:
    collection_id = _collection(db, owner)
    outcome = _upload(db, collection_id, name)
    mime_type, address = EXPECTED[name]
    [file] = outcome.files
    assert (file.mime_type, file.duplicate) == (mime_type, False)
    assert outcome.items_collected == 1 and outcome.documents == 1
    assert file.item_id is not None
    with db.transaction(readonly=True) as session:
        item = session.get(CollectionItem, file.item_id)
        assert item is not None and item.item_type == "upload"
        assert item.raw_data["filename"] == name
        document = session.scalar(
            select(RawDocument).where(RawDocument.collection_id == collection_id)
        )
        assert document is not None
        assert document.file_info == {
            "filename": name,
            "size": (FILES / name).stat().st_size,
            "mime_type": mime_type,
        }
        assert address in (document.content or "")
        assert service.get_collection(session, collection_id).items_collected == 1
    assert address in _entities_of(db, file.item_id)


def test_the_same_file_again_is_a_duplicate_under_any_name(
    db: Database, owner: uuid.UUID, tmp_path: Path
) -> None:
    collection_id = _collection(db, owner)
    first = _upload(db, collection_id, "advisory.txt")
    files = read_uploads(
        [Upload(filename="renamed.txt", data=(FILES / "advisory.txt").read_bytes())]
    )
    with db.transaction() as session:
        again = store_uploads(session, actor=ACTOR, collection_id=collection_id, files=files)
    assert first.items_collected == 1
    assert again.items_collected == 0
    assert again.files[0].duplicate and again.files[0].item_id is None


def test_unsupported_file_type_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        read_uploads([Upload(filename="tool.exe", data=b"MZ\x90\x00", mime_type=None)])
    assert "tool.exe" in caught.value.detail
    with pytest.raises(UnsupportedMediaType):
        read_uploads([Upload(filename="x.bin", data=b"\x00", mime_type="image/png")])
    with pytest.raises(Invalid):
        read_uploads([Upload(filename="empty.txt", data=b"")])


def test_rest_upload_takes_a_raw_body_with_its_content_type(api: Any) -> None:
    api.login_as("ursula", "user")
    created = api.post(
        BASE,
        json={"name": "u", "collector_type": "domain_intel", "config": {"domain": "example.com"}},
    ).json()
    response = api.post(
        f"{BASE}/{created['id']}/uploads",
        params={"filename": "brief.pdf"},
        content=(FILES / "brief.pdf").read_bytes(),
        headers={"Content-Type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["files"][0]["title"] == "Loader infrastructure brief"
    assert body["items_collected"] == 1
    # An octet-stream body is typed by its name.
    by_name = api.post(
        f"{BASE}/{created['id']}/uploads",
        params={"filename": "lure.eml"},
        content=(FILES / "lure.eml").read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert by_name.status_code == 201 and by_name.json()["files"][0]["mime_type"] == (
        "message/rfc822"
    )
    items = api.get(f"{BASE}/{created['id']}/items", params={"item_type": "upload"}).json()
    assert items["total"] == 2


def test_rest_upload_of_an_unsupported_type_is_415(api: Any) -> None:
    api.login_as("ursula", "user")
    created = api.post(
        BASE,
        json={"name": "u", "collector_type": "domain_intel", "config": {"domain": "example.com"}},
    ).json()
    response = api.post(
        f"{BASE}/{created['id']}/uploads",
        params={"filename": "photo.png"},
        content=b"\x89PNG\r\n\x1a\n",
        headers={"Content-Type": "image/png"},
    )
    assert response.status_code == 415
    assert "photo.png" in response.json()["detail"]


def test_rest_upload_over_the_body_limit_is_413(api: Any, live_server: Any) -> None:
    api.login_as("ursula", "user")
    created = api.post(
        BASE,
        json={"name": "u", "collector_type": "domain_intel", "config": {"domain": "example.com"}},
    ).json()
    live_server.use(api.database, max_body_bytes=1024)
    response = api.post(
        f"{BASE}/{created['id']}/uploads",
        params={"filename": "big.txt"},
        content=b"a" * 4096,
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 413


def test_cli_uploads_files_and_lists_them_as_items(cli: Any, owner: uuid.UUID) -> None:
    created = cli.json(
        "collections", "create", "files", "--type", "domain_intel", "--set", "domain=example.com"
    )
    outcome = cli.json(
        "collections",
        "upload",
        created["id"],
        str(FILES / "advisory.txt"),
        str(FILES / "campaign.html"),
        str(FILES / "lure.eml"),
        str(FILES / "brief.pdf"),
    )
    assert outcome["items_collected"] == 4
    assert {f["mime_type"] for f in outcome["files"]} == {
        "text/plain",
        "text/html",
        "message/rfc822",
        "application/pdf",
    }
    listed = cli.json("collections", "items", created["id"])
    assert listed["total"] == 4
    assert {i["raw_data"]["filename"] for i in listed["items"]} == {
        "advisory.txt",
        "campaign.html",
        "lure.eml",
        "brief.pdf",
    }
