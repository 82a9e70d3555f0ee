"""The README's configuration table is the settings: every setting (retrieval/settings.py)
and every environment variable the CLI reads has a row, and no row names anything else."""

from __future__ import annotations

import re

import click

from bot.cli import cli
from retrieval.settings import Settings
from tests.support.seed import ROOT


def table_names() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):]
    section = section[: section.index("\n## ", 3)]
    names = set()
    for line in section.splitlines():
        if first := re.match(r"\|\s*((?:`[A-Z0-9_]+`(?:,\s*)?)+)\s*\|", line):
            names |= set(re.findall(r"`([A-Z0-9_]+)`", first.group(1)))
    return names


def cli_envvars(command: click.Command) -> set[str]:
    found = {p.envvar for p in command.params if isinstance(p.envvar, str)}
    for sub in getattr(command, "commands", {}).values():
        found |= cli_envvars(sub)
    return found


def test_every_setting_and_cli_variable_has_a_row_and_every_row_is_one():
    settings = {(field.alias or name).upper() for name, field in Settings.model_fields.items()}
    assert table_names() == settings | cli_envvars(cli)
