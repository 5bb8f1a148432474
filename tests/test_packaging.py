"""The wheel (and so the container image) carries every data file the bot reads at run time, and finds them
outside the source tree. Dockerfile and .ci/run build and run the real image where a Docker daemon answers."""
from __future__ import annotations

import sysconfig
import tomllib
from pathlib import Path

import pytest

from bot import data

ROOT = Path(__file__).resolve().parents[1]


def test_data_files_cover_templates_migrations_and_runbooks() -> None:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = {path.resolve() for patterns in spec.values() for pattern in patterns for path in ROOT.glob(pattern) if path.is_file()}
    needed = {path.resolve() for folder in ("templates", "migrations", "runbooks") for path in (ROOT / folder).rglob("*")
              if path.is_file() and "__pycache__" not in path.parts}
    assert needed - shipped == set(), "add these to [tool.setuptools.data-files] in pyproject.toml"
    for target, patterns in spec.items():  # each lands where bot/data.py looks: share/sevbot/<same relative folder>
        for pattern in patterns:
            assert target == "share/sevbot/" + str(Path(pattern).parent), (target, pattern)


def test_installed_data_is_found_outside_the_source_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No checkout beside bot/ (a wheel in site-packages): the data files under <prefix>/share/sevbot/ are used."""
    installed = tmp_path / "prefix" / "share" / "sevbot" / "templates"
    installed.mkdir(parents=True)
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path / "prefix") if name == "data" else "")
    monkeypatch.setattr(data, "SOURCE_ROOT", tmp_path / "site-packages")
    assert data.data_dir("templates") == installed
    monkeypatch.setattr(data, "SOURCE_ROOT", ROOT)
    assert data.data_dir("templates") == ROOT / "templates"  # a checkout wins
