"""Secrets the policy file names by environment variable (alert source tokens, calendar feed secrets): read once at
start from the environment or `.env`, as every setting is. A missing or short one stops the start with its name,
never its value."""
from __future__ import annotations

import os
from collections.abc import Mapping

from dotenv import dotenv_values
from pydantic import SecretStr

MIN_LENGTH = 16


class MissingSecret(Exception):
    """A `…_env` key names a variable that is not set, or holds fewer than MIN_LENGTH characters."""


def environment() -> dict[str, str]:
    """`.env` under the process environment (the environment wins, as in pydantic-settings)."""
    return {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}


def read_secret(where: str, inline: SecretStr | None, env_key: str, env_name: str | None, environ: Mapping[str, str],
                *, noun: str) -> str | None:
    """The secret written in the file, else the one in the variable `env_name` (None when neither is configured).
    `where` and `env_key` name the policy keys in the error ("alerts.sources.am", "token_env")."""
    if inline is not None:
        return inline.get_secret_value()
    if env_name is None:
        return None
    value = environ.get(env_name)
    if not value:
        raise MissingSecret(f"{where}.{env_key}: {env_name} is not set")
    if len(value) < MIN_LENGTH:
        raise MissingSecret(f"{where}: the {noun} in {env_name} is under {MIN_LENGTH} characters")
    return value
