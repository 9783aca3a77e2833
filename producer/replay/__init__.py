"""Replay: re-publish archived tweets to Kafka for backfills (``tweetstream replay``)."""
