"""Errors of the producer. Each message says what went wrong and what to do next."""

from tweetstream.errors import DataError, TweetstreamError


class ProducerError(TweetstreamError):
    """Kafka could not be reached, or refused what the producer sent."""


class SourceError(DataError):
    """An input file cannot be read at all (missing, not UTF-8, not the expected columns)."""
