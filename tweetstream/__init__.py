"""tweetstream: classify social-media posts as real disasters, in the stream."""

__version__ = "0.1.0"
