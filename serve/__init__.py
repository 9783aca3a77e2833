"""Serving people directly: the HTTP API (``tweetstream api``) and the UI (``tweetstream ui``)."""
