"""Publish tweets to Kafka (`tweetstream produce`)."""
