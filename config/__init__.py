"""Enclave configuration: typed settings loaded once per entry point, plus offline guards."""

from config.offline import configure_offline
from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "configure_offline", "load_settings"]
