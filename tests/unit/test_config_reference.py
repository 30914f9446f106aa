"""The README's config reference is generated from the models and must match them."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.config_reference import END, START, reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_current_reference() -> None:
    text = README.read_text(encoding="utf-8")
    generated = text[text.index(START) + len(START) : text.index(END)].strip()
    assert generated == reference(), "README config reference is stale: run `make docs`"


def test_every_config_key_is_in_the_reference_with_a_meaning() -> None:
    table = reference()
    for section in Config.model_fields:
        # A section that is a list (`heartbeats:`) is documented as `section[].key`.
        assert f"`{section}." in table or f"`{section}[]." in table, section
    rows = [line for line in table.splitlines()[2:] if "| section |" not in line]
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    undocumented = [row[0] for row in cells if not row[-1]]
    assert not undocumented, f"fields without a description: {undocumented}"
