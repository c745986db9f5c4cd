"""The accounts the browser tests sign in with, on a freshly migrated database.

``python tests/e2e/seed.py DATABASE_URL`` migrates the database, creates the accounts and prints
them as JSON: an admin, an analyst with MFA (its TOTP secret included, so the test computes
codes), a viewer, and a user that still holds a one-time password.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import pyotp

from krsn.db import Database
from krsn.db.migrate import upgrade
from krsn.identity import auth
from krsn.identity.audit import Actor
from krsn.identity.models import Role
from krsn.identity.users import create_user, get_user

PASSWORD = "Seeded-e2e-Passphrase-42"
SEEDER = Actor(user_id=None, via="cli")


def seed(url: str) -> dict[str, Any]:
    upgrade(url)
    database = Database(url)
    accounts: dict[str, Any] = {}
    with database.transaction() as session:
        for name, role in (
            ("admin", Role.ADMIN),
            ("analyst", Role.ANALYST),
            ("viewer", Role.VIEWER),
        ):
            user, _ = create_user(
                session,
                actor=SEEDER,
                username=f"e2e-{name}",
                email=f"{name}@e2e.example.org",
                role=role,
                password=PASSWORD,
            )
            accounts[name] = {"username": user.username, "password": PASSWORD, "id": str(user.id)}
        fresh, one_time = create_user(
            session,
            actor=SEEDER,
            username="e2e-newcomer",
            email="newcomer@e2e.example.org",
            role=Role.ANALYST,
        )
        accounts["newcomer"] = {
            "username": fresh.username,
            "password": one_time,
            "id": str(fresh.id),
        }
    with database.transaction() as session:
        analyst_id = uuid.UUID(accounts["analyst"]["id"])
        secret, _ = auth.start_mfa_enrolment(session, actor=SEEDER, user_id=analyst_id)
        auth.verify_mfa_enrolment(
            session, actor=SEEDER, user_id=analyst_id, code=pyotp.TOTP(secret).now()
        )
        accounts["analyst"]["totp_secret"] = secret
        # The enrolment used this 30-second step; the browser test signs in within it.
        get_user(session, analyst_id).mfa_last_used_step = None
    database.dispose()
    return accounts


if __name__ == "__main__":
    print(json.dumps(seed(sys.argv[1])))
