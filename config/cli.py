"""The settings prologue shared by the command-line entry points."""

from __future__ import annotations

import sys

from config.offline import configure_offline
from config.settings import ConfigError, Settings, load_settings


def cli_settings(profile: str | None) -> Settings | None:
    """Go offline, then load the settings; on a bad value print why and return None."""
    configure_offline()
    try:
        return load_settings(profile=profile)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
