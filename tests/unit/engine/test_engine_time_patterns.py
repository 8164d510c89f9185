"""The Java DateTimeFormatter / SimpleDateFormat pattern engine behind ksqlDB's date-time functions."""
from __future__ import annotations

import datetime as dt

import pytest

from labkit.engine.functions.time_patterns import (
    DateTimeValue, PatternError, TextParseError, compile_pattern, resolve_simple_date, zone_of,
)
from labkit.engine.types import timestamp_from_millis, timestamp_to_millis

LA = zone_of("America/Los_Angeles")
MAY_11_LA = DateTimeValue.of_instant(timestamp_from_millis(1526075913123), LA)  # 2018-05-11T14:58:33.123-07:00
UTC_VALUE = DateTimeValue.of_instant(timestamp_from_millis(1526075913123), zone_of("UTC"))


@pytest.mark.parametrize("pattern,text", [
    ("yyyy-MM-dd HH:mm:ss zzz", "2018-05-11 14:58:33 PDT"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2018-05-11T14:58:33.123-07"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2018-05-11T14:58:33.123-07:00"),
    ("EEE, d MMM yyyy hh:mm a", "Fri, 11 May 2018 02:58 PM"),
    ("EEEE MMMM dd yy", "Friday May 11 18"),
    ("MMMMM EEEEE G GGGG", "M F AD Anno Domini"),
    ("x xx xxx Z ZZZZ ZZZZZ", "-07 -0700 -07:00 -0700 GMT-07:00 -07:00"),
    ("O OOOO VV zzzz", "GMT-7 GMT-07:00 America/Los_Angeles Pacific Daylight Time"),
    ("D DDD Q QQ QQQ QQQQ", "131 131 2 02 Q2 2nd quarter"),
    ("e c w W Y", "6 6 19 2 2018"),
    ("h K k H", "2 2 14 14"),
    ("S SS SSSSSS n A N", "1 12 123000 123000000 53913123 53913123000000"),
    ("yyyy-MM-dd[ HH:mm]", "2018-05-11 14:58"),
    ("dd-MM-yyyy'Sophia'", "11-05-2018Sophia"),
    ("'o''clock' ''", "o'clock '"),
    ("u uu uuuu y", "2018 18 2018 2018"),
])
def test_format_zoned_date_time(pattern: str, text: str) -> None:
    assert compile_pattern(pattern).format(MAY_11_LA) == text


def test_format_in_utc_and_fixed_offsets() -> None:
    assert compile_pattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX z").format(UTC_VALUE) == "2018-05-11T21:58:33.123Z UTC"
    fixed = DateTimeValue.of_instant(timestamp_from_millis(0), zone_of("+05:30"))
    assert compile_pattern("HH:mm X x O z").format(fixed) == "05:30 +0530 +0530 GMT+5:30 +05:30"
    assert compile_pattern("VV").format(DateTimeValue.of_instant(timestamp_from_millis(0), zone_of("GMT"))) == "GMT"


def test_format_date_or_time_alone_rejects_missing_fields() -> None:
    date_only = DateTimeValue(date=dt.date(1969, 12, 31))
    assert compile_pattern("dd-MM-yyyy").format(date_only) == "31-12-1969"
    assert compile_pattern("yyyy[ HH:mm]").format(date_only) == "1969"
    with pytest.raises(TextParseError, match="Unsupported field: HourOfDay"):
        compile_pattern("yyyy HH").format(date_only)
    with pytest.raises(TextParseError, match="Unsupported field: YearOfEra"):
        compile_pattern("yyyy").format(DateTimeValue(time=dt.time(1)))
    with pytest.raises(TextParseError, match="Unable to extract ZoneId"):
        compile_pattern("VV").format(date_only)


@pytest.mark.parametrize("pattern,message", [
    ("yyyy-MM-ddd", "Too many pattern letters: d"),
    ("aa", "Too many pattern letters: a"),
    ("HHH", "Too many pattern letters: H"),
    ("b", "Unknown pattern letter: b"),
    ("'abc", "Pattern ends with an incomplete string literal: 'abc"),
    ("yyyy]", "Pattern invalid as it contains ] without previous ["),
    ("V", "Pattern letter count must be 2: V"),
    ("OO", "Pattern letter count must be 1 or 4: O"),
    ("{", "Pattern includes reserved character: '{'"),
])
def test_invalid_patterns(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert str(caught.value) == message


@pytest.mark.parametrize("text,pattern,zone,millis", [
    ("2018-05-11T21:58:33Z", "yyyy-MM-dd'T'HH:mm:ssX", "UTC", 1526075913000),
    ("2020-05-11T21:58:33z", "yyyy-MM-dd'T'HH:mm:ssX", "UTC", 1589234313000),
    ("2018-05-11T21:58:33 PST", "yyyy-MM-dd'T'HH:mm:ss zzz", "UTC", 1526101113000),
    ("2019-08-27T13:31:09.2+0000", "yyyy-MM-dd'T'HH:mm:ss.SX", "UTC", 1566912669200),
    ("2018-05-11T21:58:33", "yyyy-MM-dd'T'HH:mm:ss", "America/Los_Angeles", 1526101113000),
    ("2018-05-11 21:58:33 +05:30", "yyyy-MM-dd HH:mm:ss xxx", "UTC", 1526056113000),
    ("2018-05-11 America/New_York", "yyyy-MM-dd VV", "UTC", 1526011200000),
    ("20180511", "yyyyMMdd", "UTC", 1525996800000),
    ("201805112158", "yyyyMMddHHmm", "UTC", 1526075880000),
    ("JAN-2022", "MMM-yyyy", "UTC", 1640995200000),
    ("01:00:00 Pm", "hh:mm:ss a", "UTC", 46800000),
    ("12:30 AM", "hh:mm a", "UTC", 1800000),
    ("2018-131", "yyyy-DDD", "UTC", 1525996800000),
    ("18-05-11", "yy-MM-dd", "UTC", 1525996800000),
    ("2018-05-11 [14]", "yyyy-MM-dd '['HH']'", "UTC", 1526047200000),
    ("2018-05-11", "yyyy-MM-dd[ HH:mm]", "UTC", 1525996800000),
    ("2018-05-11 10:15", "yyyy-MM-dd[ HH:mm]", "UTC", 1526033700000),
    ("2018-02-30", "yyyy-MM-dd", "UTC", 1519776000000),
    ("24:00", "kk:mm", "UTC", 0),
])
def test_parse_to_instant(text: str, pattern: str, zone: str, millis: int) -> None:
    assert timestamp_to_millis(compile_pattern(pattern).parse(text).instant(zone_of(zone))) == millis


@pytest.mark.parametrize("text,pattern,message", [
    ("2018-05-11x", "yyyy-MM-dd", "Text '2018-05-11x' could not be parsed, unparsed text found at index 10"),
    ("2018-5-11", "yyyy-MM-dd", "Text '2018-5-11' could not be parsed at index 5"),
    ("20180-05-11", "yyyy-MM-dd", "Text '20180-05-11' could not be parsed at index 4"),
    ("2018-13-11", "yyyy-MM-dd", "Invalid value for MonthOfYear (valid values 1 - 12): 13"),
    ("Janvier 2022", "MMMM yyyy", "Text 'Janvier 2022' could not be parsed at index 0"),
])
def test_parse_errors(text: str, pattern: str, message: str) -> None:
    with pytest.raises(TextParseError) as caught:
        compile_pattern(pattern).parse(text).instant(zone_of("UTC"))
    assert str(caught.value) == message


def test_dates_and_times_require_their_fields() -> None:
    assert compile_pattern("dd/MM/yyyy").parse("11/05/2019").date(required=True) == dt.date(2019, 5, 11)
    assert compile_pattern("dd-MMM-yyyy").parse("01-jan-2022").date(required=True) == dt.date(2022, 1, 1)
    with pytest.raises(TextParseError, match="Unable to obtain LocalDate"):
        compile_pattern("yyyy-MM").parse("2022-01").date(required=True)
    assert compile_pattern("HH/mm/ss").parse("11/05/19").time(required=True) == (dt.time(11, 5, 19), 0)
    with pytest.raises(TextParseError, match="Unable to obtain LocalTime"):
        compile_pattern("mm:ss").parse("05:19").time(required=True)
    with pytest.raises(TextParseError, match="Conflict found: Field DayOfWeek"):
        compile_pattern("EEE yyyy-MM-dd").parse("Mon 2018-05-11").date(required=True)


def test_simple_date_format_dialect() -> None:
    def parse(text: str, pattern: str) -> dt.datetime:
        return resolve_simple_date(compile_pattern(pattern, simple=True).parse(text, partial=True))

    assert parse("2022-01-01xyz", "yyyy-MM-dd") == dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc)
    assert parse("20220102", "yyyyMMdd") == dt.datetime(2022, 1, 2, tzinfo=dt.timezone.utc)
    assert parse("JANUARY 5, 2022", "MMM d, yyyy") == dt.datetime(2022, 1, 5, tzinfo=dt.timezone.utc)
    assert parse("2022-01-32", "yyyy-MM-dd") == dt.datetime(2022, 2, 1, tzinfo=dt.timezone.utc)  # lenient
    assert parse("2022-01-01 10:00:00.250", "yyyy-MM-dd HH:mm:ss.SSS").microsecond == 250000
    with pytest.raises(PatternError, match="Illegal pattern component: b"):
        compile_pattern("yyyy b", simple=True)


def test_zone_ids_follow_java_zone_id_of() -> None:
    assert zone_of("Z") == dt.timezone.utc
    assert zone_of("+0200").utcoffset(None) == dt.timedelta(hours=2)
    assert zone_of("GMT+1").utcoffset(None) == dt.timedelta(hours=1)
    assert str(zone_of("Europe/London")) == "Europe/London"
    for bad in ("PST", "Nowhere/City", "+25:00", "bad zone"):
        with pytest.raises(ValueError):
            zone_of(bad)
