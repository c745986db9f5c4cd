"""Settings: read from KRSN_ variables, documented in the README from one source."""

from __future__ import annotations

from pathlib import Path

from krsn.config import Settings, render_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_configuration_table_is_generated_from_the_settings():
    text = README.read_text()
    assert render_readme(text) == text, "run 'make docs' to refresh the README's table"
    for name in Settings.model_fields:
        assert f"KRSN_{name.upper()}" in text


def test_settings_come_from_krsn_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("KRSN_PORT", "9001")
    monkeypatch.setenv("KRSN_DATABASE_URL", "postgresql://h/db")
    settings = Settings()
    assert settings.port == 9001
    assert settings.database_url == "postgresql://h/db"


def test_secret_key_is_made_once_and_kept_private(tmp_path):
    settings = Settings(secret_key=None, data_dir=tmp_path / "var")
    first = settings.resolved_secret_key()
    assert first == settings.resolved_secret_key()
    key_file = tmp_path / "var" / "secret.key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert len(first) >= 32
