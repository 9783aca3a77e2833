"""Model code for tweetstream: text cleaning and scikit-learn pipelines."""
