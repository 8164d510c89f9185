"""labkit: the helper package of the ksqlDB & Kafka workbook.

It starts and stops the local cluster, talks to ksqlDB, generates data and runs the lessons' services.
"""
from __future__ import annotations

__version__ = "0.1.0"
