"""Errors of the stream worker."""

from tweetstream.errors import TweetstreamError


class StreamError(TweetstreamError):
    """The worker cannot run (a required service does not answer at start)."""
