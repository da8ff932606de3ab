"""Measurement beside the engine, never in its way: `citewell eval` (``quality``: answers and retrieval on
question files, BEIR and SQuAD; ``calibration``: where to refuse; ``ranking``: the metrics; ``datasets`` and
``cache``: the data and the indexes built of it) and `citewell bench` (``benchmarks``). Nothing in the service
imports it.
"""
