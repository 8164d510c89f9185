"""Date and time functions: Java patterns, zones, arithmetic with TimeUnit truncation."""
from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest

from labkit.engine.functions import FunctionError, IntervalUnitArg, resolve
from labkit.engine.types import (
    BIGINT, DATE, INTEGER, STRING, TIME, TIMESTAMP, date_from_days, time_from_millis, timestamp_from_millis,
)

S, L, I = STRING, BIGINT, INTEGER
TS = timestamp_from_millis


def unit(name: str) -> IntervalUnitArg:
    return IntervalUnitArg(name)


@pytest.mark.parametrize("name,types,args,expected", [
    ("TIMESTAMPTOSTRING", [L, S, S], (1526075913000, "yyyy-MM-dd HH:mm:ss zzz", "America/Los_Angeles"),
     "2018-05-11 14:58:33 PDT"),
    ("TIMESTAMPTOSTRING", [L, S], (0, "yyyy-MM-dd'T'HH:mm:ss.SSSX"), "1970-01-01T00:00:00.000Z"),
    ("TIMESTAMPTOSTRING", [I, S], (1000, "ss"), "01"),
    ("TIMESTAMPTOSTRING", [L, S], (0, None), None),
    ("STRINGTOTIMESTAMP", [S, S], ("2018-05-11T21:58:33Z", "yyyy-MM-dd'T'HH:mm:ssX"), 1526075913000),
    ("STRINGTOTIMESTAMP", [S, S, S], ("2018-05-11 14:58:33", "yyyy-MM-dd HH:mm:ss", "America/Los_Angeles"),
     1526075913000),
    ("STRINGTODATE", [S, S], ("2018-05-11Lit", "yyyy-MM-dd'Lit'"), 17662),
    ("STRINGTODATE", [S, S], ("01-Jan-2022", "dd-MMM-yyyy"), 18993),
    ("DATETOSTRING", [I, S], (-1, "dd-MM-yyyy'Sophia'"), "31-12-1969Sophia"),
    ("DATETOSTRING", [I, S], (18993, "dd-MMM-yyyy"), "01-Jan-2022"),
    ("FORMAT_DATE", [DATE, S], (dt.date(2022, 1, 1), "dd-MMM-yyyy"), "01-Jan-2022"),
    ("FORMAT_DATE", [DATE, S], (None, "yyyy"), None),
    ("FORMAT_TIME", [TIME, S], (dt.time(0, 1, 5), "HH:mm:ss.SSS"), "00:01:05.000"),
    ("FORMAT_TIME", [TIME, S], (dt.time(13, 0), "hh:mm a"), "01:00 PM"),
    ("FORMAT_TIMESTAMP", [TIMESTAMP, S], (TS(1526075913123), "yyyy-MM-dd'T'HH:mm:ss.SSS z"),
     "2018-05-11T21:58:33.123 GMT"),
    ("FORMAT_TIMESTAMP", [TIMESTAMP, S, S], (TS(1526075913000), "yyyy-MM-dd HH:mm z", "Asia/Kolkata"),
     "2018-05-12 03:28 IST"),
    ("PARSE_TIMESTAMP", [S, S], ("2018-05-11T21:58:33", "yyyy-MM-dd'T'HH:mm:ss"), TS(1526075913000)),
    ("PARSE_TIMESTAMP", [S, S, S], ("2018-05-11T14:58:33", "yyyy-MM-dd'T'HH:mm:ss", "America/Los_Angeles"),
     TS(1526075913000)),
    ("PARSE_TIMESTAMP", [S, S], ("2018-05-11T21:58:33 PST", "yyyy-MM-dd'T'HH:mm:ss zzz"), TS(1526101113000)),
    ("PARSE_DATE", [S, S], ("11/05/2019", "dd/MM/yyyy"), dt.date(2019, 5, 11)),
    ("PARSE_DATE", [S, S], ("JAN-2022", "MMM-yyyy"), dt.date(2022, 1, 1)),
    ("PARSE_DATE", [S, S], ("2018-05-11Lit", "yyyy-MM-dd'Lit'"), dt.date(2018, 5, 11)),
    ("PARSE_TIME", [S, S], ("01:00:00 PM", "hh:mm:ss a"), dt.time(13, 0)),
    ("PARSE_TIME", [S, S], ("00:01:05Lit", "HH:mm:ss'Lit'"), dt.time(0, 1, 5)),
    ("PARSE_TIME", [S, S], ("11/05/19", "HH/mm/ss"), dt.time(11, 5, 19)),
    ("UNIX_TIMESTAMP", [TIMESTAMP], (TS(1589234313000),), 1589234313000),
    ("UNIX_TIMESTAMP", [TIMESTAMP], (None,), None),
    ("UNIX_DATE", [DATE], (date_from_days(100),), 100),
    ("DATEADD", [unit("DAYS"), I, DATE], ("DAYS", -5, date_from_days(5)), date_from_days(0)),
    ("DATEADD", [unit("HOURS"), I, DATE], ("HOURS", 25, date_from_days(0)), date_from_days(1)),
    ("DATEADD", [unit("HOURS"), I, DATE], ("HOURS", -1, date_from_days(0)), date_from_days(0)),
    ("DATEADD", [unit("MILLISECONDS"), I, DATE], ("MILLISECONDS", None, date_from_days(5)), None),
    ("DATESUB", [unit("DAYS"), I, DATE], ("DAYS", -5, date_from_days(5)), date_from_days(10)),
    ("TIMEADD", [unit("MILLISECONDS"), I, TIME], ("MILLISECONDS", 10, time_from_millis(86399995)), time_from_millis(5)),
    ("TIMEADD", [unit("HOURS"), I, TIME], ("HOUR", 25, dt.time(0)), dt.time(1)),
    ("TIMESUB", [unit("MILLISECONDS"), I, TIME], ("MILLISECONDS", 10, time_from_millis(5)),
     time_from_millis(86399995)),
    ("TIMESUB", [unit("MILLISECONDS"), I, TIME], ("MILLISECONDS", -5, time_from_millis(86399997)),
     time_from_millis(2)),
    ("TIMESTAMPADD", [unit("MILLISECONDS"), I, TIMESTAMP], ("MILLISECONDS", 10, TS(10)), TS(20)),
    ("TIMESTAMPADD", [unit("MICROSECONDS"), I, TIMESTAMP], ("MICROSECONDS", 2500, TS(0)), TS(2)),
    ("TIMESTAMPSUB", [unit("DAYS"), I, TIMESTAMP], ("DAYS", 1, TS(0)), TS(-86400000)),
    ("CONVERT_TZ", [TIMESTAMP, S, S], (TS(100), "America/Los_Angeles", "America/New_York"), TS(10800100)),
    ("CONVERT_TZ", [TIMESTAMP, S, S], (TS(1589234313000), "America/Los_Angeles", "America/New_York"),
     TS(1589245113000)),
    ("CONVERT_TZ", [TIMESTAMP, S, S], (TS(0), "UTC", "+05:30"), TS(19800000)),
    ("FROM_UNIXTIME", [L], (1589234313000,), TS(1589234313000)),
    ("FROM_DAYS", [I], (-10,), dt.date(1969, 12, 22)),
])
def test_datetime_functions(name: str, types: list, args: tuple, expected: Any) -> None:
    assert resolve(name, types).call(*args) == expected


@pytest.mark.parametrize("name,types,args,message", [
    ("TIMESTAMPTOSTRING", [L, S, S], (0, "yyyy", "Nowhere/City"),
     "Failed to format timestamp 0 at timeZone 'Nowhere/City' with formatter 'yyyy': Unknown time-zone ID: "
     "Nowhere/City"),
    ("TIMESTAMPTOSTRING", [L, S], (0, "yyyy-MM-ddd"),
     "Failed to format timestamp 0 with formatter 'yyyy-MM-ddd': Too many pattern letters: d"),
    ("STRINGTOTIMESTAMP", [S, S], ("not a timestamp", "yyyy-MM-dd"),
     "Failed to parse timestamp 'not a timestamp' with formatter 'yyyy-MM-dd': Text 'not a timestamp' could not "
     "be parsed at index 0"),
    ("STRINGTOTIMESTAMP", [S, S], (None, "yyyy-MM-dd"), "Failed to parse timestamp 'None' with formatter"),
    ("STRINGTODATE", [S, S], ("2022-01", "yyyy-MM"), "Failed to parse date '2022-01' with formatter 'yyyy-MM': "
                                                     "Unable to obtain LocalDate"),
    ("FORMAT_DATE", [DATE, S], (dt.date(2022, 1, 1), "HH"),
     "Failed to format date 2022-01-01 with formatter 'HH': Unsupported field: HourOfDay"),
    ("FORMAT_TIME", [TIME, S], (dt.time(1), "yyyy"),
     "Failed to format time 01:00:00 with formatter 'yyyy': Unsupported field: YearOfEra"),
    ("PARSE_DATE", [S, S], ("2022-01-01 10:00", "yyyy-MM-dd HH:mm"),
     "Failed to parse date '2022-01-01 10:00' with formatter 'yyyy-MM-dd HH:mm': Date format contains time field."),
    ("PARSE_DATE", [S, S], ("abcd", "yyyy-MM-dd"), "Failed to parse date 'abcd' with formatter 'yyyy-MM-dd': "
                                                   "Unparseable date: \"abcd\""),
    ("PARSE_TIME", [S, S], ("2022 10:00", "yyyy HH:mm"),
     "Failed to parse time '2022 10:00' with formatter 'yyyy HH:mm': Time format contains date field."),
    ("CONVERT_TZ", [TIMESTAMP, S, S], (TS(0), "UTC", "Nowhere/City"), "Invalid time zone: Unknown time-zone ID: "
                                                                      "Nowhere/City"),
    ("DATETOSTRING", [I, S], (None, "yyyy"), "NULL passed to the INT parameter 'epochDays'"),
])
def test_datetime_function_errors(name: str, types: list, args: tuple, message: str) -> None:
    with pytest.raises(FunctionError, match=re.escape(message)):
        resolve(name, types).call(*args)


def test_current_time_functions() -> None:
    now = int(time.time() * 1000)
    assert abs(resolve("UNIX_TIMESTAMP", []).call() - now) < 5000
    assert resolve("UNIX_DATE", []).call() == (dt.datetime.now(dt.timezone.utc).date() - dt.date(1970, 1, 1)).days
