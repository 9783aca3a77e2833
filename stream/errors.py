"""Errors of the stream worker and its sinks."""

from tweetstream.errors import TweetstreamError


class StreamError(TweetstreamError):
    """The worker cannot run."""


class SinkError(StreamError):
    """A sink (PostgreSQL, S3, Kafka) failed; the batch is retried, never dropped."""
