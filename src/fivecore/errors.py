"""The root of fivecore's exception hierarchy.

Each layer defines its own subclasses (``fivecore.security.SecurityError``,
``fivecore.wire.DecodeError``, ...) so callers can catch one layer's failures
without catching programming errors.
"""


class FivecoreError(Exception):
    """Base class of every error fivecore raises on purpose."""


class ConfigError(FivecoreError):
    """A configuration file or value is wrong; the message names the key."""
