"""Adapters for training frameworks; each imports its framework only when it is imported itself.

* :mod:`dlrs.integrations.lightning` -- a PyTorch Lightning callback (``pip install "dlrs-repro[lightning]"``).
"""
