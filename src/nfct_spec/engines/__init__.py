"""Engines that check the catalogue on the model: Hypothesis stateful testing (sampling)."""
