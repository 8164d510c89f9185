"""Date and time functions: formatting and parsing with Java patterns, arithmetic, time zones.

The JVM "system default" time zone of ksqlDB (used by TIMESTAMPTOSTRING and STRINGTOTIMESTAMP without
a zone argument, UNIX_DATE()) is `SYSTEM_ZONE`, UTC as in ksqlDB's Docker images.
"""
from __future__ import annotations

import datetime as dt
import time as time_module
from typing import Callable

from labkit.engine.functions.registry import INTERVAL_UNIT, FunctionError, p, register, udf
from labkit.engine.functions.time_patterns import (
    DateTimeValue, Pattern, PatternError, TextParseError, compile_pattern, resolve_simple_date, zone_of,
)
from labkit.engine.types import (
    BIGINT, DATE, INTEGER, STRING, TIME, TIMESTAMP, date_from_days, date_to_days, time_from_millis,
    time_to_millis, timestamp_from_millis, timestamp_to_millis,
)

DATE_TIME = "DATE / TIME"
SYSTEM_ZONE = "UTC"

_UNIT_NANOS = {"NANOSECONDS": 1, "MICROSECONDS": 10**3, "MILLISECONDS": 10**6, "SECONDS": 10**9,
               "MINUTES": 60 * 10**9, "HOURS": 3600 * 10**9, "DAYS": 86400 * 10**9}


def _unit_nanos(unit: str) -> int:
    """Nanoseconds in a java.util.concurrent.TimeUnit given as DAYS, DAY, HOURS, ..."""
    name = unit.upper()
    name = name if name.endswith("S") else name + "S"
    if name not in _UNIT_NANOS:
        raise FunctionError(f"Unknown time unit: {unit}")
    return _UNIT_NANOS[name]


def _truncating_div(value: int, divisor: int) -> int:
    """Java integer division: rounds towards zero."""
    quotient = abs(value) // divisor
    return quotient if value >= 0 else -quotient


def _to_millis(unit: str, interval: int) -> int:
    """TimeUnit.toMillis(interval): truncates towards zero for sub-millisecond units."""
    return _truncating_div(_unit_nanos(unit) * interval, 10**6)


def _pattern(pattern: str, simple: bool = False) -> Pattern:
    return compile_pattern(pattern, simple)


def _timestamp_to_string(epoch_millis: int, pattern: str | None, zone: str | None = SYSTEM_ZONE) -> str | None:
    if pattern is None or zone is None:
        return None
    zone_text = "" if zone == SYSTEM_ZONE else f" at timeZone '{zone}'"
    try:
        value = DateTimeValue.of_instant(timestamp_from_millis(epoch_millis), zone_of(zone))
        return _pattern(pattern).format(value)
    except (PatternError, TextParseError, ValueError, OverflowError) as e:
        raise FunctionError(f"Failed to format timestamp {epoch_millis}{zone_text} with formatter '{pattern}': {e}")


def _format_timestamp(ts: dt.datetime | None, pattern: str | None, zone: str | None = "GMT") -> str | None:
    if ts is None or pattern is None or zone is None:
        return None
    try:
        return _pattern(pattern).format(DateTimeValue.of_instant(ts, zone_of(zone)))
    except (PatternError, TextParseError, ValueError, OverflowError) as e:
        raise FunctionError(f"Failed to format timestamp {ts} at timeZone '{zone}' with formatter '{pattern}': {e}")


def _string_to_timestamp(text: str | None, pattern: str | None, zone: str | None = SYSTEM_ZONE) -> int:
    zone_text = "" if zone == SYSTEM_ZONE else f" at timezone '{zone}'"
    try:
        if text is None or pattern is None or zone is None:
            raise ValueError("null argument")
        return timestamp_to_millis(_pattern(pattern).parse(text).instant(zone_of(zone)))
    except (PatternError, TextParseError, ValueError, OverflowError) as e:
        raise FunctionError(f"Failed to parse timestamp '{text}'{zone_text} with formatter '{pattern}': {e}")


def _parse_timestamp(text: str | None, pattern: str | None, zone: str | None = "GMT") -> dt.datetime | None:
    if text is None or pattern is None or zone is None:
        return None
    try:
        return _pattern(pattern).parse(text).instant(zone_of(zone))
    except (PatternError, TextParseError, ValueError, OverflowError) as e:
        raise FunctionError(f"Failed to parse timestamp '{text}' at timezone '{zone}' with formatter "
                            f"'{pattern}': {e}")


def _string_to_date(text: str | None, pattern: str | None) -> int:
    try:
        if text is None or pattern is None:
            raise ValueError("null argument")
        return date_to_days(_pattern(pattern).parse(text).date(required=True))
    except (PatternError, TextParseError, ValueError) as e:
        raise FunctionError(f"Failed to parse date '{text}' with formatter '{pattern}': {e}")


def _date_to_string(epoch_days: int, pattern: str | None) -> str | None:
    if pattern is None:
        return None
    try:
        return _pattern(pattern).format(DateTimeValue(date=date_from_days(epoch_days)))
    except (PatternError, TextParseError, ValueError, OverflowError) as e:
        raise FunctionError(f"Failed to format date {epoch_days} with formatter '{pattern}': {e}")


def _format_date(date: dt.date | None, pattern: str | None) -> str | None:
    if date is None or pattern is None:
        return None
    try:
        return _pattern(pattern).format(DateTimeValue(date=date))
    except (PatternError, TextParseError, ValueError) as e:
        raise FunctionError(f"Failed to format date {date.isoformat()} with formatter '{pattern}': {e}")


def _format_time(time: dt.time | None, pattern: str | None) -> str | None:
    if time is None or pattern is None:
        return None
    try:
        return _pattern(pattern).format(DateTimeValue(time=time))
    except (PatternError, TextParseError, ValueError) as e:
        raise FunctionError(f"Failed to format time {time.isoformat()} with formatter '{pattern}': {e}")


def _parse_date(text: str | None, pattern: str | None) -> dt.date | None:
    if text is None or pattern is None:
        return None
    try:
        instant = resolve_simple_date(_pattern(pattern, simple=True).parse(text, partial=True))
    except (PatternError, TextParseError, ValueError, OverflowError) as e:
        message = f"Unparseable date: \"{text}\"" if isinstance(e, TextParseError) else str(e)
        raise FunctionError(f"Failed to parse date '{text}' with formatter '{pattern}': {message}")
    if timestamp_to_millis(instant) % 86_400_000:
        raise FunctionError(f"Failed to parse date '{text}' with formatter '{pattern}': Date format contains time "
                            "field.")
    return instant.date()


def _parse_time(text: str | None, pattern: str | None) -> dt.time | None:
    if text is None or pattern is None:
        return None
    try:
        parsed = _pattern(pattern).parse(text)
        if parsed.has_date_field():
            raise ValueError("Time format contains date field.")
        return parsed.time(required=True)[0]
    except (PatternError, TextParseError, ValueError) as e:
        raise FunctionError(f"Failed to parse time '{text}' with formatter '{pattern}': {e}")


def _unix_timestamp(ts: dt.datetime | None = None, *, now: bool = False) -> int | None:
    if now:
        return time_module.time_ns() // 10**6
    return None if ts is None else timestamp_to_millis(ts)


def _unix_date(date: dt.date | None = None, *, now: bool = False) -> int | None:
    if now:
        return date_to_days(dt.datetime.now(zone_of(SYSTEM_ZONE)).date())
    return None if date is None else date_to_days(date)


def _date_add(sign: int) -> Callable[[str | None, int | None, dt.date | None], dt.date | None]:
    def impl(unit: str | None, interval: int | None, date: dt.date | None) -> dt.date | None:
        if unit is None or interval is None or date is None:
            return None
        millis = date_to_days(date) * 86_400_000 + sign * _to_millis(unit, interval)
        return date_from_days(_truncating_div(millis, 86_400_000))  # TimeUnit.MILLISECONDS.toDays
    return impl


def _time_add(sign: int) -> Callable[[str | None, int | None, dt.time | None], dt.time | None]:
    def impl(unit: str | None, interval: int | None, time: dt.time | None) -> dt.time | None:
        if unit is None or interval is None or time is None:
            return None
        day = 86_400 * 10**9
        nanos = (time_to_millis(time) * 10**6 + sign * _unit_nanos(unit) * interval) % day
        return time_from_millis(nanos // 10**6)
    return impl


def _timestamp_add(sign: int) -> Callable[[str | None, int | None, dt.datetime | None], dt.datetime | None]:
    def impl(unit: str | None, interval: int | None, ts: dt.datetime | None) -> dt.datetime | None:
        if unit is None or interval is None or ts is None:
            return None
        return timestamp_from_millis(timestamp_to_millis(ts) + sign * _to_millis(unit, interval))
    return impl


def _convert_tz(ts: dt.datetime | None, from_zone: str | None, to_zone: str | None) -> dt.datetime | None:
    if ts is None or from_zone is None or to_zone is None:
        return None
    try:
        source, target = zone_of(from_zone), zone_of(to_zone)
    except ValueError as e:
        raise FunctionError(f"Invalid time zone: {e}")
    offset = ts.astimezone(target).utcoffset() - ts.astimezone(source).utcoffset()  # type: ignore[operator]
    return ts + offset


def _from_unixtime(ms: int | None) -> dt.datetime | None:
    return None if ms is None else timestamp_from_millis(ms)


def _from_days(days: int) -> dt.date:
    return date_from_days(days)


# --- registration -------------------------------------------------------------------------------

S = STRING
register("unix_timestamp", "Returns the current number of milliseconds since 1970-01-01 00:00:00 UTC/GMT, or the "
         "milliseconds of the given timestamp.", DATE_TIME,
         udf(lambda: _unix_timestamp(now=True), [], BIGINT), udf(_unix_timestamp, [p("timestamp", TIMESTAMP)], BIGINT))
register("unix_date", "Returns the current number of days since 1970-01-01, or the days of the given date.",
         DATE_TIME, udf(lambda: _unix_date(now=True), [], INTEGER), udf(_unix_date, [p("date", DATE)], INTEGER))
register("timestamptostring", "Converts a number of milliseconds since 1970-01-01 00:00:00 UTC/GMT into the string "
         "representation of the timestamp in the given format.", DATE_TIME,
         udf(_timestamp_to_string, [p("epochMilli", BIGINT, primitive=True), p("formatPattern", S)], S),
         udf(_timestamp_to_string, [p("epochMilli", BIGINT, primitive=True), p("formatPattern", S),
                                    p("timeZone", S)], S))
register("stringtotimestamp", "Converts a string representation of a date in the given format into the number of "
         "milliseconds since 1970-01-01 00:00:00 UTC/GMT.", DATE_TIME,
         udf(_string_to_timestamp, [p("formattedTimestamp", S), p("formatPattern", S)], BIGINT),
         udf(_string_to_timestamp, [p("formattedTimestamp", S), p("formatPattern", S), p("timeZone", S)], BIGINT))
register("stringtodate", "Converts a string representation of a date in the given format into the number of days "
         "since 1970-01-01 00:00:00 UTC/GMT.", DATE_TIME,
         udf(_string_to_date, [p("formattedDate", S), p("formatPattern", S)], INTEGER))
register("datetostring", "Converts the number of days since 1970-01-01 00:00:00 UTC/GMT to a date string using the "
         "given format pattern.", DATE_TIME,
         udf(_date_to_string, [p("epochDays", INTEGER, primitive=True), p("formatPattern", S)], S))
register("format_timestamp", "Converts a TIMESTAMP value into the string representation of the timestamp in the "
         "given format.", DATE_TIME,
         udf(_format_timestamp, [p("timestamp", TIMESTAMP), p("formatPattern", S)], S),
         udf(_format_timestamp, [p("timestamp", TIMESTAMP), p("formatPattern", S), p("timeZone", S)], S))
register("parse_timestamp", "Converts a string representation of a date in the given format into a TIMESTAMP "
         "value.", DATE_TIME,
         udf(_parse_timestamp, [p("formattedTimestamp", S), p("formatPattern", S)], TIMESTAMP),
         udf(_parse_timestamp, [p("formattedTimestamp", S), p("formatPattern", S), p("timeZone", S)], TIMESTAMP))
register("format_date", "Converts a DATE value to a string using the given format pattern.", DATE_TIME,
         udf(_format_date, [p("date", DATE), p("formatPattern", S)], S))
register("parse_date", "Converts a string representation of a date in the given format into a DATE value.",
         DATE_TIME, udf(_parse_date, [p("formattedDate", S), p("formatPattern", S)], DATE))
register("format_time", "Converts a TIME value into the string representation of the time in the given format.",
         DATE_TIME, udf(_format_time, [p("time", TIME), p("formatPattern", S)], S))
register("parse_time", "Converts a string representation of a time in the given format into a TIME value.",
         DATE_TIME, udf(_parse_time, [p("formattedTime", S), p("formatPattern", S)], TIME))
for _name, _sign, _type, _factory in (("dateadd", 1, DATE, _date_add), ("datesub", -1, DATE, _date_add),
                                      ("timeadd", 1, TIME, _time_add), ("timesub", -1, TIME, _time_add),
                                      ("timestampadd", 1, TIMESTAMP, _timestamp_add),
                                      ("timestampsub", -1, TIMESTAMP, _timestamp_add)):
    register(_name, f"{'Adds a duration to' if _sign > 0 else 'Subtracts a duration from'} a {_type} value.",
             DATE_TIME, udf(_factory(_sign), [p("unit", INTERVAL_UNIT), p("interval", INTEGER),
                                              p(_type.name.lower(), _type)], _type))
register("convert_tz", "Converts a TIMESTAMP value from one timezone to another.", DATE_TIME,
         udf(_convert_tz, [p("timestamp", TIMESTAMP), p("fromTimeZone", S), p("toTimeZone", S)], TIMESTAMP))
register("from_unixtime", "Converts the number of milliseconds since 1970-01-01 00:00:00 UTC/GMT into a TIMESTAMP "
         "value.", DATE_TIME, udf(_from_unixtime, [p("epochMilli", BIGINT)], TIMESTAMP))
register("from_days", "Converts a number of days since epoch to a DATE value.", DATE_TIME,
         udf(_from_days, [p("days", INTEGER, primitive=True)], DATE))
