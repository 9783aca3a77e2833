"""The Faust worker: classify tweets and write them to every sink."""
