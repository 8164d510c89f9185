"""The public API the rest of the engine builds on: pinned names, and the docstring examples run."""
from __future__ import annotations

import doctest
import importlib

import pytest

import labkit.engine.functions as functions
import labkit.engine.serde as serde


def test_functions_api_is_pinned() -> None:
    assert sorted(functions.__all__) == sorted([
        "resolve", "lambda_input_types", "get_function", "function_names", "is_function", "FunctionError",
        "FunctionResolutionError", "LambdaArg", "IntervalUnitArg", "ArgType", "Resolved", "ScalarFunction",
        "REGISTRY"])


def test_serde_api_is_pinned() -> None:
    assert sorted(serde.__all__) == sorted([
        "SerdeError", "SchemaRegistryNotConfiguredError", "Serde", "make_serde", "parse_delimiter", "to_topic_json",
        "to_rest_json", "json_dumps", "json_loads", "FORMATS", "SCHEMA_REGISTRY_FORMATS"])


@pytest.mark.parametrize("module", ["labkit.engine.serde", "labkit.engine.functions",
                                    "labkit.engine.functions.registry", "labkit.engine.functions.time_patterns"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
