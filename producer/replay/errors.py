"""Errors of ``tweetstream replay``. Each message is one line: what went wrong, what to do."""

from tweetstream.errors import DataError, TweetstreamError


class ReplayError(TweetstreamError):
    """Base class of the replay's expected errors."""


class SelectionError(ReplayError):
    """The selection is unusable: a bad date, an empty range, options that do not combine."""


class ReplaySourceError(ReplayError, DataError):
    """A source cannot be read at all (missing ids file, unreachable bucket or database)."""


class CheckpointError(ReplayError):
    """A checkpoint is missing, unreadable, or belongs to another selection."""
