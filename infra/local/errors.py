"""Errors of the local stack. Each message says what to do next."""

from tweetstream.errors import TweetstreamError


class StackError(TweetstreamError):
    """The local stack could not be started, stopped or inspected."""


class MissingDependencyError(StackError):
    """A system program (java, mvn, PostgreSQL's server) is not installed."""


class PortInUseError(StackError):
    """A port the stack needs is taken by a process that is not ours."""


class ServiceStartError(StackError):
    """A service died or never became healthy while starting."""
