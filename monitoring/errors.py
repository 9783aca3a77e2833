"""Errors of the monitor and the trainer."""

from tweetstream.errors import TweetstreamError


class MonitorError(TweetstreamError):
    """A monitoring window cannot be computed (recorded with its reason, the job goes on)."""


class ReferenceUnavailable(MonitorError):
    """The serving model's reference snapshot cannot be loaded."""
