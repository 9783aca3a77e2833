"""The root of every error tweetstream raises on purpose.

Each subpackage defines its own subclasses next to the code that raises them
(``infra/local/errors.py``, ``models/errors.py`` ...). The CLI catches
``TweetstreamError`` and prints its message as one line, without a traceback:
messages therefore say what went wrong *and* what to do about it.
"""


class TweetstreamError(Exception):
    """Base class for all expected, user-facing errors."""


class ConfigError(TweetstreamError):
    """A setting is missing or inconsistent."""


class DataError(TweetstreamError):
    """An input file or record is unusable."""


class ServiceError(TweetstreamError):
    """A service a command needs (PostgreSQL, Kafka, ...) does not answer."""
