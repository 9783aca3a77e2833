"""Errors of training, evaluation and the registry."""

from tweetstream.errors import DataError, TweetstreamError


class DatasetError(DataError):
    """A labeled CSV cannot be used; the message names the file and the problem."""


class ModelError(TweetstreamError):
    """A model cannot be loaded, registered or promoted."""


class BaseWeightsError(ModelError):
    """The pretrained weights of the transformer family cannot be found or read."""


class ChecksumError(BaseWeightsError):
    """A base weights file is not the one pinned: it may have been tampered with or swapped."""
