"""Write the REST API's OpenAPI document to a file, without a database or a server: the UI's
typed client is generated from it at build time (``python -m krsn.openapi web/openapi.json``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    """The OpenAPI document of the app as configured by default."""
    from krsn.app import create_app
    from krsn.config import get_settings
    from krsn.db import Database

    settings = get_settings().model_copy(update={"database_url": "sqlite://"})
    app = create_app(settings, Database(settings.database_url))
    return app.openapi()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m krsn.openapi OUTPUT.json", file=sys.stderr)
        return 2
    target = Path(args[0])
    text = json.dumps(document(), indent=1, sort_keys=True) + "\n"
    # Left alone when unchanged, so that make sees nothing to rebuild.
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
