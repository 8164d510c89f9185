"""Conformance: run ksqlDB's own query-validation (QTT) and REST (RQTT) cases against labkit's engine."""
from __future__ import annotations

from labkit.conformance.cases import Case, discover, load_cases
from labkit.conformance.driver import ConformanceDriver, TestRecord

__all__ = ["Case", "ConformanceDriver", "TestRecord", "discover", "load_cases"]
