""".env.example lists every setting, each with its comment, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from backend.config import ENV_PREFIX, Settings
from backend.env_example import render

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
ASSIGNMENT = re.compile(rf"^#? ?{ENV_PREFIX}([A-Z0-9_]+)=", re.MULTILINE)
REGENERATE = "regenerate it: python -m backend.env_example > .env.example"


def _example_names() -> list[str]:
    return [name.lower() for name in ASSIGNMENT.findall(EXAMPLE.read_text())]


def test_env_example__every_setting_is_listed():
    missing = set(Settings.model_fields) - set(_example_names())
    assert not missing, f".env.example lacks {sorted(missing)}; {REGENERATE}"


def test_env_example__lists_only_settings_once_each():
    names = _example_names()
    unknown = set(names) - set(Settings.model_fields)
    assert not unknown, f".env.example names no such settings {sorted(unknown)}; {REGENERATE}"
    assert len(names) == len(set(names)), "a setting is listed twice in .env.example"


def test_env_example__every_setting_has_a_comment():
    blocks = EXAMPLE.read_text().split("\n\n")[1:]
    for block in blocks:
        lines = block.strip().splitlines()
        assert ASSIGNMENT.match(lines[-1]), f"block without a setting: {block!r}"
        assert len(lines) >= 2, f"setting without a comment: {lines[-1]}"


def test_env_example__is_what_the_generator_writes():
    assert EXAMPLE.read_text() == render(), f".env.example is out of date; {REGENERATE}"


def _clear_settings_environment(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"{ENV_PREFIX}{name.upper()}", raising=False)


def test_env_example__copied_as_is__changes_no_setting(monkeypatch):
    _clear_settings_environment(monkeypatch)
    monkeypatch.setenv("COPYVAULT_ENV_FILE", str(EXAMPLE))
    from_example = Settings()
    monkeypatch.setenv("COPYVAULT_ENV_FILE", "")
    assert from_example == Settings()


def test_env_example__every_line_uncommented__reads_back_the_defaults(monkeypatch, tmp_path):
    """The values shown parse as the settings read them: uncommenting one keeps its default."""
    _clear_settings_environment(monkeypatch)
    lines = [line.removeprefix("# ") for line in EXAMPLE.read_text().splitlines()]
    assignments = [line for line in lines if ASSIGNMENT.match(line) and not line.endswith("=")]
    env = tmp_path / ".env"
    env.write_text("\n".join(assignments) + "\n")
    monkeypatch.setenv("COPYVAULT_ENV_FILE", str(env))
    from_file = Settings()
    monkeypatch.setenv("COPYVAULT_ENV_FILE", "")
    assert len(assignments) > 50
    assert from_file == Settings()
