"""ksqlDB's aggregate functions: Java arithmetic, nulls, undo, merge, and resolution errors."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from labkit.engine.types import BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, SqlArray, SqlDecimal, SqlMap
from labkit.engine.udafs import UdafArg, UdafError, UdafResolutionError, is_aggregate, resolve_udaf
from labkit.engine.udafs.registry import Udaf


def run(udaf: Udaf, *values: Any) -> Any:
    state = udaf.initialize()
    for value in values:
        state = udaf.aggregate(value if isinstance(value, tuple) else (value,), state)
    return udaf.map(state)


def test_count_counts_non_null_values_and_undoes() -> None:
    count = resolve_udaf("COUNT", [STRING])
    assert run(count, "a", None, "b") == 2
    assert count.undo is not None and count.undo(("a",), 2) == 1


def test_integer_sum_wraps_around_like_java() -> None:
    total = resolve_udaf("SUM", [INTEGER])
    assert run(total, 2_147_483_647, 1) == -2_147_483_648
    assert total.return_type == INTEGER


def test_decimal_sum_keeps_the_type_and_fails_on_overflow() -> None:
    total = resolve_udaf("SUM", [SqlDecimal(3, 1)])
    assert run(total, Decimal("1.5"), Decimal("2.0")) == Decimal("3.5")
    with pytest.raises(UdafError, match="Numeric field overflow"):
        run(total, Decimal("60.0"), Decimal("50.0"))


def test_average_is_a_double_and_zero_when_empty() -> None:
    average = resolve_udaf("AVG", [BIGINT])
    assert average.return_type == DOUBLE
    assert run(average, 1, 2) == 1.5
    assert run(average) == 0.0


def test_min_max_ignore_nulls() -> None:
    assert run(resolve_udaf("MAX", [INTEGER]), 3, None, 7, 5) == 7
    assert run(resolve_udaf("MIN", [STRING]), "b", None, "a") == "a"


def test_latest_and_earliest_by_offset_ignore_nulls_by_default() -> None:
    assert run(resolve_udaf("LATEST_BY_OFFSET", [INTEGER]), 1, 2, None) == 2
    assert run(resolve_udaf("EARLIEST_BY_OFFSET", [INTEGER]), None, 1, 2) == 1
    keep_nulls = resolve_udaf("LATEST_BY_OFFSET", [UdafArg(INTEGER), UdafArg(BOOLEAN, True, False)])
    assert run(keep_nulls, 1, None) is None


def test_latest_n_keeps_the_last_values_in_order() -> None:
    latest = resolve_udaf("LATEST_BY_OFFSET", [UdafArg(STRING), UdafArg(INTEGER, True, 2)])
    assert latest.return_type == SqlArray(STRING)
    assert run(latest, "a", "b", "c") == ["b", "c"]


def test_collect_list_keeps_nulls_and_undo_removes_the_last_occurrence() -> None:
    collect = resolve_udaf("COLLECT_LIST", [INTEGER])
    assert run(collect, 1, None, 1) == [1, None, 1]
    assert collect.undo is not None and collect.undo((1,), [1, 2, 1]) == [1, 2]


def test_collect_set_and_count_distinct_deduplicate() -> None:
    assert run(resolve_udaf("COLLECT_SET", [STRING]), "a", "b", "a") == ["a", "b"]
    assert run(resolve_udaf("COUNT_DISTINCT", [STRING]), "a", "b", "a", None) == 2


def test_collect_list_honours_the_configured_limit() -> None:
    collect = resolve_udaf("COLLECT_LIST", [INTEGER], {"ksql.functions.collect_list.limit": 2})
    assert run(collect, 1, 2, 3) == [1, 2]


def test_topk_keeps_the_k_largest_and_can_carry_other_columns() -> None:
    top = resolve_udaf("TOPK", [UdafArg(INTEGER), UdafArg(INTEGER, True, 2)])
    assert run(top, 3, 9, 1, 5) == [9, 5]
    with_names = resolve_udaf("TOPK", [UdafArg(INTEGER), UdafArg(STRING), UdafArg(INTEGER, True, 1)])
    assert run(with_names, (3, "c"), (9, "n")) == [{"sort_col": 9, "col0": "n"}]
    assert run(resolve_udaf("TOPKDISTINCT", [UdafArg(INTEGER), UdafArg(INTEGER, True, 2)]), 5, 5, 3, 1) == [5, 3]


def test_histogram_counts_and_undoes() -> None:
    histogram = resolve_udaf("HISTOGRAM", [STRING])
    assert histogram.return_type == SqlMap(STRING, BIGINT)
    assert run(histogram, "a", "b", "a") == {"a": 2, "b": 1}
    assert histogram.undo is not None and histogram.undo(("b",), {"a": 2, "b": 1}) == {"a": 2}


def test_stddev_samp_is_the_sample_variance_as_in_ksqldb_0_29() -> None:
    assert run(resolve_udaf("STDDEV_SAMP", [DOUBLE]), 1.0, 2.0, 3.0, 4.0) == pytest.approx(1.6666666666)
    assert run(resolve_udaf("STDDEV_SAMPLE", [DOUBLE]), 1.0, 2.0, 3.0, 4.0) == pytest.approx(1.2909944487)


def test_correlation_of_a_perfect_line_is_one() -> None:
    assert run(resolve_udaf("CORRELATION", [DOUBLE, DOUBLE]), (1.0, 2.0), (2.0, 4.0), (3.0, 6.0)) == pytest.approx(1.0)


def test_resolution_errors_are_ksqldbs() -> None:
    assert is_aggregate("count") and not is_aggregate("ucase")
    with pytest.raises(UdafResolutionError, match=r"Function 'SUM' does not accept parameters \(STRING\)."):
        resolve_udaf("SUM", [STRING])
    with pytest.raises(UdafResolutionError, match="Parameter 2 passed to function TOPK must be a literal constant, "
                                                  "but was expression: 'X'"):
        resolve_udaf("TOPK", [UdafArg(INTEGER), UdafArg(INTEGER, False, None, "X")])


def test_states_are_plain_data_for_changelog_topics() -> None:
    from labkit.engine.changelog import decode_state, encode_state
    for name, types in (("AVG", [INTEGER]), ("LATEST_BY_OFFSET", [STRING]), ("HISTOGRAM", [STRING]),
                        ("CORRELATION", [DOUBLE, DOUBLE])):
        udaf = resolve_udaf(name, types)
        state = udaf.aggregate(tuple([1.0] * len(types)) if name == "CORRELATION" else ("x",) if types[0] == STRING
                               else (1,), udaf.initialize())
        assert decode_state(encode_state(state)) == state
