"""Dockerfile rules that a build only catches on some base images or in some orchestrators, checked without Docker
(CI often has no daemon: .ci/run then skips the real build). docs/deploy.md records the real build and run."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(word.upper(), rest) for word, _, rest in (line.strip().partition(" ") for line in joined.splitlines() if line.strip())]


def test_run_steps_call_python3_from_path_not_python() -> None:
    """Debian's python3 package has no `python` command; only the official image has both."""
    runs = [args for keyword, args in _instructions() if keyword == "RUN"]
    assert any("python3 -m venv" in args for args in runs)
    bare = [args for args in runs if re.search(r"(^|[\s;&|(])python(\s|$)", args)]
    assert bare == [], f"use python3 (or /opt/venv/bin/python) in: {bare}"


def test_user_is_numeric_for_run_as_non_root() -> None:
    """Kubernetes' runAsNonRoot refuses an image whose USER is a name: it cannot tell that the name is not root."""
    users = [args.strip() for keyword, args in _instructions() if keyword == "USER"]
    assert users and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]), users


def test_base_image_is_a_build_argument_used_by_both_stages() -> None:
    """One PYTHON_IMAGE for both stages: the virtualenv's interpreter is a symlink into the base image."""
    froms = [args.split()[0] for keyword, args in _instructions() if keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"], froms
