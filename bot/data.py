"""Where sevbot's data directories are: templates/, migrations/ and the example runbooks/.

In a checkout (and an editable install) they sit next to bot/. A wheel installs them as data files under
`<prefix>/share/sevbot/` (pyproject.toml `[tool.setuptools.data-files]`), which is how the container image and a
plain `pip install` find them: the installed package works outside the source tree.
"""
from __future__ import annotations

import sysconfig
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def data_dir(name: str) -> Path:
    """The checkout's `name/` when there is one, else the installed `<prefix>/share/sevbot/name/`."""
    source = SOURCE_ROOT / name
    if source.is_dir():
        return source
    installed = Path(sysconfig.get_path("data")) / "share" / "sevbot" / name
    return installed if installed.is_dir() else source
