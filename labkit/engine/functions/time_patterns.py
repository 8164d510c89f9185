"""Java date-time patterns ('yyyy-MM-dd''T''HH:mm:ss.SSSX') compiled into a formatter and a parser.

ksqlDB's date/time functions take java.time.format.DateTimeFormatter patterns (PARSE_DATE takes a
java.text.SimpleDateFormat pattern), so this module implements those pattern languages directly rather
than translating to strftime, which cannot express fractions of a second, optional sections or Java's
strict field widths. Locale-dependent text is English (the JVM default in ksqlDB's images); week fields
follow US rules (weeks start on Sunday).

Example:
    >>> from labkit.engine.types import timestamp_from_millis
    >>> p = compile_pattern("yyyy-MM-dd HH:mm:ss.SSS")
    >>> p.format(DateTimeValue.of_instant(timestamp_from_millis(0), zone_of("UTC")))
    '1970-01-01 00:00:00.000'
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from labkit.engine.types import parse_offset

__all__ = ["PatternError", "TextParseError", "DateTimeValue", "Parsed", "Pattern", "compile_pattern",
           "zone_of"]


class PatternError(ValueError):
    """The pattern itself is invalid (Java IllegalArgumentException)."""


class TextParseError(ValueError):
    """The text does not match the pattern, or the parsed fields cannot be resolved."""


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
QUARTERS = ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"]
ERAS = {"short": ["BC", "AD"], "full": ["Before Christ", "Anno Domini"], "narrow": ["B", "A"]}
# Zone names as English text: abbreviation -> preferred region (what java.time picks when parsing).
ZONE_ABBREVIATIONS = {
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "MST": "America/Denver",
    "MDT": "America/Denver", "CST": "America/Chicago", "CDT": "America/Chicago",
    "EST": "America/New_York", "EDT": "America/New_York", "AKST": "America/Anchorage",
    "AKDT": "America/Anchorage", "HST": "Pacific/Honolulu", "GMT": "GMT", "UTC": "UTC",
    "BST": "Europe/London", "CET": "Europe/Paris", "CEST": "Europe/Paris", "EET": "Europe/Bucharest",
    "EEST": "Europe/Bucharest", "WET": "Europe/Lisbon", "WEST": "Europe/Lisbon", "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo", "KST": "Asia/Seoul", "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
}
ZONE_FULL_NAMES = {
    "PST": "Pacific Standard Time", "PDT": "Pacific Daylight Time", "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time", "CST": "Central Standard Time", "CDT": "Central Daylight Time",
    "EST": "Eastern Standard Time", "EDT": "Eastern Daylight Time", "UTC": "Coordinated Universal Time",
    "GMT": "Greenwich Mean Time", "BST": "British Summer Time", "CET": "Central European Standard Time",
    "CEST": "Central European Summer Time", "IST": "India Standard Time", "JST": "Japan Standard Time",
}
_FIELD_TEXT = {  # java.time field display names, for error messages
    "G": "Era", "y": "YearOfEra", "u": "Year", "Q": "QuarterOfYear", "q": "QuarterOfYear",
    "M": "MonthOfYear", "L": "MonthOfYear", "D": "DayOfYear", "d": "DayOfMonth", "E": "DayOfWeek",
    "e": "DayOfWeek", "c": "DayOfWeek", "F": "AlignedDayOfWeekInMonth", "a": "AmPmOfDay",
    "h": "ClockHourOfAmPm", "K": "HourOfAmPm", "k": "ClockHourOfDay", "H": "HourOfDay",
    "m": "MinuteOfHour", "s": "SecondOfMinute", "S": "NanoOfSecond", "A": "MilliOfDay",
    "n": "NanoOfSecond", "N": "NanoOfDay", "w": "WeekOfWeekBasedYear", "W": "WeekOfMonth",
    "Y": "WeekBasedYear",
}
_DATE_LETTERS = set("GyuQqMLDdEecFwWY")
_TIME_LETTERS = set("ahKkHmsSAnN")
_ZONE_LETTERS = set("VvzOXxZ")  # in SimpleDateFormat z, Z and X are zones too
_JAVA_LETTERS = _DATE_LETTERS | _TIME_LETTERS | _ZONE_LETTERS
_SIMPLE_LETTERS = set("GyYMLwWDdFEuaHkKhmsSzZX")


def zone_of(zone_id: str) -> dt.tzinfo:
    """java.time ZoneId.of: 'UTC', 'Z', '+02:00', 'GMT+1', 'America/Los_Angeles' (raises ValueError)."""
    if zone_id == "Z":
        return dt.timezone.utc
    if zone_id in ("UTC", "GMT", "UT"):
        return ZoneInfo("UTC" if zone_id == "UT" else zone_id)
    for prefix in ("UTC", "GMT", "UT"):
        if zone_id.startswith(prefix) and zone_id[len(prefix):][:1] in ("+", "-"):
            offset = parse_offset(zone_id[len(prefix):])
            if offset is None:
                raise ValueError(f"Invalid ID for offset-based ZoneId: {zone_id}")
            return offset
    if zone_id[:1] in ("+", "-"):
        offset = parse_offset(zone_id)
        if offset is None:
            raise ValueError(f"Invalid ID for ZoneOffset, invalid format: {zone_id}")
        return offset
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9~/._+-]+", zone_id):
        raise ValueError(f"Invalid ID for region-based ZoneId, invalid format: {zone_id}")
    try:
        return ZoneInfo(zone_id)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"Unknown time-zone ID: {zone_id}") from e


def _zone_id_text(zone: dt.tzinfo, local: dt.datetime) -> str:
    if isinstance(zone, ZoneInfo):
        return zone.key
    offset = local.utcoffset() or dt.timedelta(0)
    return "Z" if not offset else _offset_text(offset, "+HH:MM:ss", "Z")


def _offset_text(offset: dt.timedelta, pattern: str, no_offset: str) -> str:
    total = int(offset.total_seconds())
    if total == 0:
        return no_offset
    sign = "+" if total > 0 else "-"
    total = abs(total)
    hh, mm, ss = total // 3600, total // 60 % 60, total % 60
    colon = ":" if ":" in pattern else ""
    out = f"{sign}{hh:02d}"
    body = pattern[3:].replace(":", "")
    if body.startswith("MM") or (body.startswith("mm") and (mm or ss)):
        out += f"{colon}{mm:02d}"
        if body[2:].startswith("SS") or (body[2:].startswith("ss") and ss):
            out += f"{colon}{ss:02d}"
    return out


@dataclass(frozen=True)
class DateTimeValue:
    """What a pattern formats: a date and/or a time of day, optionally in a zone (ZonedDateTime)."""

    date: dt.date | None = None
    time: dt.time | None = None
    zone: dt.tzinfo | None = None
    offset: dt.timedelta | None = None
    zone_name: str | None = None

    @classmethod
    def of_instant(cls, instant: dt.datetime, zone: dt.tzinfo) -> "DateTimeValue":
        """A ZonedDateTime: `instant` (aware) seen in `zone`."""
        local = instant.astimezone(zone)
        name = local.tzname() or ""
        return cls(local.date(), local.time().replace(tzinfo=None), zone, local.utcoffset(), name)

    def get(self, letter: str) -> int:
        """The numeric value of the field a pattern letter stands for."""
        if letter in _DATE_LETTERS:
            if self.date is None:
                raise TextParseError(f"Unsupported field: {_FIELD_TEXT[letter]}")
            d = self.date
            us_dow = d.isoweekday() % 7 + 1  # Sunday = 1
            return {
                "G": 1, "y": d.year, "u": d.year, "Q": (d.month - 1) // 3 + 1, "q": (d.month - 1) // 3 + 1,
                "M": d.month, "L": d.month, "D": d.timetuple().tm_yday, "d": d.day, "E": d.isoweekday(),
                "e": us_dow, "c": us_dow, "F": (d.day - 1) % 7 + 1, "w": _us_week_of_year(d)[1],
                "W": _us_week_of_month(d), "Y": _us_week_of_year(d)[0],
            }[letter]
        if self.time is None:
            raise TextParseError(f"Unsupported field: {_FIELD_TEXT[letter]}")
        t = self.time
        nano = t.microsecond * 1000
        nano_of_day = ((t.hour * 60 + t.minute) * 60 + t.second) * 10**9 + nano
        return {
            "a": t.hour // 12, "h": (t.hour % 12) or 12, "K": t.hour % 12, "k": t.hour or 24, "H": t.hour,
            "m": t.minute, "s": t.second, "S": nano, "n": nano, "A": nano_of_day // 10**6, "N": nano_of_day,
        }[letter]


def _us_week_of_year(d: dt.date) -> tuple[int, int]:
    """(week-based-year, week) with weeks starting Sunday and week 1 containing January 1st."""
    def week1_start(year: int) -> dt.date:
        jan1 = dt.date(year, 1, 1)
        return jan1 - dt.timedelta(days=jan1.isoweekday() % 7)

    year = d.year
    if d >= week1_start(year + 1):
        year += 1
    return year, (d - week1_start(year)).days // 7 + 1


def _us_week_of_month(d: dt.date) -> int:
    first = d.replace(day=1)
    return (d.day - 1 + first.isoweekday() % 7) // 7 + 1


@dataclass
class Parsed:
    """Fields parsed from text, keyed by pattern letter meaning, plus the parsed zone if any."""

    fields: dict[str, int] = field(default_factory=dict)
    zone: dt.tzinfo | None = None

    def put(self, name: str, value: int) -> None:
        old = self.fields.get(name)
        if old is not None and old != value:
            raise TextParseError(f"Conflict found: Field {name} {old} differs from {name} {value}")
        self.fields[name] = value

    def has_date_field(self) -> bool:
        return any(f in self.fields for f in ("ERA", "YEAR", "YEAR_OF_ERA", "MONTH", "DAY", "DAY_OF_YEAR",
                                              "DAY_OF_WEEK", "QUARTER", "ALIGNED_DOW"))

    def _year(self) -> int | None:
        year = self.fields.get("YEAR")
        yoe = self.fields.get("YEAR_OF_ERA")
        if yoe is not None:
            era = self.fields.get("ERA", 1)
            from_era = yoe if era == 1 else 1 - yoe
            if year is not None and year != from_era:
                raise TextParseError(f"Conflict found: Year {year} differs from Year {from_era}")
            year = from_era
        return year

    def date(self, required: bool) -> dt.date | None:
        """The resolved date (java.time SMART rules); defaults come from 1970-01-01 unless `required`."""
        f = self.fields
        year = self._year()
        try:
            if year is not None and "DAY_OF_YEAR" in f and "MONTH" not in f:
                result = dt.date(year, 1, 1) + dt.timedelta(days=f["DAY_OF_YEAR"] - 1)
                if result.year != year:
                    raise TextParseError(f"Invalid date 'DayOfYear {f['DAY_OF_YEAR']}' in {year}")
            elif year is not None and "MONTH" in f and "DAY" in f:
                result = _smart_date(year, f["MONTH"], f["DAY"])
            elif required:
                raise TextParseError(f"Unable to obtain LocalDate from TemporalAccessor: {self._describe()}")
            else:
                result = _smart_date(1970 if year is None else year, f.get("MONTH", 1), f.get("DAY", 1))
        except ValueError as e:
            raise TextParseError(str(e)) from e
        if "DAY_OF_WEEK" in f and result.isoweekday() != f["DAY_OF_WEEK"]:
            if required or (year is not None and "DAY" in f):
                raise TextParseError(f"Conflict found: Field DayOfWeek {result.isoweekday()} differs from "
                                     f"DayOfWeek {f['DAY_OF_WEEK']} derived from {result.isoformat()}")
            result += dt.timedelta(days=f["DAY_OF_WEEK"] - result.isoweekday())
        return result

    def time(self, required: bool) -> tuple[dt.time, int]:
        """(time of day, extra days) using SMART rules; defaults 00:00 unless `required`."""
        f = self.fields
        hour = f.get("HOUR_OF_DAY")
        if "CLOCK_HOUR_OF_DAY" in f:
            hour = _merge(hour, 0 if f["CLOCK_HOUR_OF_DAY"] == 24 else f["CLOCK_HOUR_OF_DAY"], "HourOfDay")
        hour_of_ampm = f.get("HOUR_OF_AMPM")
        if "CLOCK_HOUR_OF_AMPM" in f:
            hour_of_ampm = _merge(hour_of_ampm, f["CLOCK_HOUR_OF_AMPM"] % 12, "HourOfAmPm")
        if hour_of_ampm is not None and ("AMPM" in f or not required):
            hour = _merge(hour, f.get("AMPM", 0) * 12 + hour_of_ampm, "HourOfDay")
        elif hour is None and "AMPM" in f and not required:
            hour = f["AMPM"] * 12
        nano = f.get("NANO", 0)
        if "MILLI_OF_DAY" in f or "NANO_OF_DAY" in f:
            nod = f["NANO_OF_DAY"] if "NANO_OF_DAY" in f else f["MILLI_OF_DAY"] * 10**6
            hour = _merge(hour, nod // 3_600_000_000_000, "HourOfDay")
            f = {**f, "MINUTE": nod // 60_000_000_000 % 60, "SECOND": nod // 10**9 % 60}
            nano = nod % 10**9
        if hour is None:
            if required:
                raise TextParseError(f"Unable to obtain LocalTime from TemporalAccessor: {self._describe()}")
            hour = 0
        minute, second = f.get("MINUTE", 0), f.get("SECOND", 0)
        extra = 0
        if hour == 24 and minute == 0 and second == 0 and nano == 0:
            hour, extra = 0, 1
        if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
            raise TextParseError(f"Invalid time {hour}:{minute}:{second}")
        return dt.time(hour, minute, second, nano // 1000), extra

    def instant(self, default_zone: dt.tzinfo) -> dt.datetime:
        """The instant the text denotes, as StringToTimestampParser resolves it (defaults 1970-01-01)."""
        date = self.date(required=False)
        time, extra = self.time(required=False)
        local = dt.datetime.combine(date + dt.timedelta(days=extra), time)
        return local.replace(tzinfo=self.zone or default_zone).astimezone(dt.timezone.utc)

    def _describe(self) -> str:
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(self.fields.items())) + "}"


def _merge(old: int | None, new: int, name: str) -> int:
    if old is not None and old != new:
        raise TextParseError(f"Conflict found: {name} {old} differs from {name} {new}")
    return new


def _smart_date(year: int, month: int, day: int) -> dt.date:
    if not 1 <= month <= 12:
        raise TextParseError(f"Invalid value for MonthOfYear (valid values 1 - 12): {month}")
    if not 1 <= day <= 31:
        raise TextParseError(f"Invalid value for DayOfMonth (valid values 1 - 28/31): {day}")
    for candidate in [day] + [d for d in (30, 29, 28) if d < day]:
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise TextParseError(f"Invalid date {year}-{month}-{day}")


@dataclass(frozen=True)
class _Token:
    kind: str  # "lit", "field", "opt"
    text: str = ""
    letter: str = ""
    count: int = 0
    children: tuple["_Token", ...] = ()


def _tokenize(pattern: str, simple: bool) -> tuple[_Token, ...]:
    """Split a pattern into literals, letter runs and [optional] sections, validating like Java."""
    stack: list[list[_Token]] = [[]]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if ("A" <= c <= "Z") or ("a" <= c <= "z"):
            j = i
            while j < len(pattern) and pattern[j] == c:
                j += 1
            count = j - i
            letters = _SIMPLE_LETTERS if simple else _JAVA_LETTERS
            if c not in letters:
                raise PatternError(f"Illegal pattern component: {c}" if simple else f"Unknown pattern letter: {c}")
            if not simple:
                _check_count(c, count)
            stack[-1].append(_Token("field", letter=c, count=count))
            i = j
        elif c == "'":
            j = i + 1
            text = ""
            while True:
                if j >= len(pattern):
                    raise PatternError(f"Pattern ends with an incomplete string literal: {pattern}")
                if pattern[j] == "'":
                    if j + 1 < len(pattern) and pattern[j + 1] == "'":
                        text += "'"
                        j += 2
                        continue
                    break
                text += pattern[j]
                j += 1
            stack[-1].append(_Token("lit", text="'" if j == i + 1 else text))
            i = j + 1
        elif c == "[" and not simple:
            stack.append([])
            i += 1
        elif c == "]" and not simple:
            if len(stack) == 1:
                raise PatternError("Pattern invalid as it contains ] without previous [")
            children = tuple(stack.pop())
            stack[-1].append(_Token("opt", children=children))
            i += 1
        elif c in "{}#" and not simple:
            raise PatternError(f"Pattern includes reserved character: '{c}'")
        else:
            stack[-1].append(_Token("lit", text=c))
            i += 1
    while len(stack) > 1:  # unclosed optional sections end with the pattern
        children = tuple(stack.pop())
        stack[-1].append(_Token("opt", children=children))
    return tuple(stack[0])


def _check_count(c: str, count: int) -> None:
    limits = {"G": 5, "M": 5, "L": 5, "Q": 5, "q": 5, "E": 5, "e": 5, "c": 5, "a": 1, "F": 1, "d": 2,
              "h": 2, "H": 2, "k": 2, "K": 2, "m": 2, "s": 2, "D": 3, "w": 2, "W": 1, "z": 4, "Z": 5,
              "X": 5, "x": 5, "S": 9}
    if c == "V" and count != 2:
        raise PatternError("Pattern letter count must be 2: V")
    if c == "O" and count not in (1, 4):
        raise PatternError("Pattern letter count must be 1 or 4: O")
    if c == "c" and count == 2:
        raise PatternError('Invalid pattern "cc"')
    if c == "v" and count not in (1, 4):
        raise PatternError("Wrong number of pattern letters: v")
    if count > limits.get(c, 19):
        raise PatternError(f"Too many pattern letters: {c}")


def _pad(value: int, width: int) -> str:
    return ("-" if value < 0 else "") + str(abs(value)).zfill(width)


class Pattern:
    """A compiled Java date-time pattern; `simple=True` reads SimpleDateFormat letters (PARSE_DATE)."""

    def __init__(self, pattern: str, simple: bool = False) -> None:
        self.pattern = pattern
        self.simple = simple
        self.tokens = _tokenize(pattern, simple)

    # -- formatting ---------------------------------------------------------------------------

    def format(self, value: DateTimeValue) -> str:
        """Render `value`; raises TextParseError('Unsupported field: HourOfDay') for missing fields."""
        return "".join(self._format_tokens(self.tokens, value, optional=False))

    def _format_tokens(self, tokens: tuple[_Token, ...], value: DateTimeValue, optional: bool) -> list[str]:
        out: list[str] = []
        for tok in tokens:
            if tok.kind == "lit":
                out.append(tok.text)
            elif tok.kind == "opt":
                try:
                    out.extend(self._format_tokens(tok.children, value, optional=True))
                except TextParseError:
                    pass
            else:
                out.append(self._format_field(tok.letter, tok.count, value))
        return out

    def _format_field(self, c: str, n: int, v: DateTimeValue) -> str:
        if c in _ZONE_LETTERS:
            return self._format_zone(c, n, v)
        value = v.get(c)
        if c in "GaEMLQq" or (c in "ec" and n >= 3):
            style = "short" if n <= 3 else "full" if n == 4 else "narrow"
            if c == "G":
                return ERAS[style][value]
            if c == "a":
                return "AM" if value == 0 else "PM"
            if c in "Eec":
                dow = value if c == "E" else (value - 2) % 7 + 1
                name = DAYS[dow - 1]
                return name[:3] if style == "short" else name if style == "full" else name[0]
            if c in "ML":
                if n <= 2:
                    return _pad(value, n)
                name = MONTHS[value - 1]
                return name[:3] if style == "short" else name if style == "full" else name[0]
            if n <= 2:
                return _pad(value, n)
            return f"Q{value}" if style == "short" else QUARTERS[value - 1] if style == "full" else str(value)
        if c == "S":
            return str(value).zfill(9)[:n].ljust(n, "0")
        if c in "yuY":
            if n == 2:
                return str(abs(value) % 100).zfill(2)
            text = _pad(value, n)
            return "+" + text if n >= 4 and value > 0 and len(str(value)) > n else text
        return _pad(value, n)

    def _format_zone(self, c: str, n: int, v: DateTimeValue) -> str:
        if v.zone is None:
            if c in "Vvz":
                raise TextParseError(f"Unable to extract ZoneId from temporal {v.date or v.time}")
            raise TextParseError("Unsupported field: OffsetSeconds")
        offset = v.offset or dt.timedelta(0)
        if c == "V":
            return _zone_id_text(v.zone, dt.datetime.combine(v.date or dt.date(1970, 1, 1), v.time or dt.time()))
        if c in "zv":
            if not isinstance(v.zone, ZoneInfo):  # a fixed offset prints its id: 'Z', '+05:30'
                return _offset_text(offset, "+HH:MM:ss", "Z")
            name = v.zone_name or ""
            if not name or name[0] in "+-":  # tzdata has no abbreviation for this zone
                name = "GMT" + _offset_text(offset, "+HH:MM", "") if offset else "GMT"
            return ZONE_FULL_NAMES.get(name, name) if n == 4 else name
        if c == "O":
            if not offset:
                return "GMT"
            if n == 1:
                text = _offset_text(offset, "+HHmmss", "")
                hh, rest = str(int(text[1:3])), text[3:]
                return f"GMT{text[0]}{hh}" + "".join(f":{rest[i:i + 2]}" for i in range(0, len(rest), 2))
            return "GMT" + _offset_text(offset, "+HH:MM:ss", "")
        patterns = {1: "+HHmm", 2: "+HHMM", 3: "+HH:MM", 4: "+HHMMss", 5: "+HH:MM:ss"}
        if c == "X":
            return _offset_text(offset, patterns[n], "Z")
        if c == "x":
            return _offset_text(offset, patterns[n], "+00" if n == 1 else "+0000" if n % 2 == 0 else "+00:00")
        if n <= 3:
            return _offset_text(offset, "+HHMM", "+0000")
        if n == 4:
            return "GMT" + _offset_text(offset, "+HH:MM:ss", "") if offset else "GMT"
        return _offset_text(offset, "+HH:MM:ss", "Z")

    # -- parsing ------------------------------------------------------------------------------

    def parse(self, text: str, case_insensitive: bool = True, partial: bool = False) -> Parsed:
        """Parse `text`; the whole text must match unless `partial` (SimpleDateFormat)."""
        parsed = Parsed()
        try:
            pos = self._parse_tokens(self.tokens, text, 0, parsed, case_insensitive)
        except _Mismatch as e:
            raise TextParseError(f"Text '{text}' could not be parsed at index {e.index}") from None
        if pos != len(text) and not partial:
            raise TextParseError(f"Text '{text}' could not be parsed, unparsed text found at index {pos}")
        return parsed

    def _parse_tokens(self, tokens: tuple[_Token, ...], text: str, pos: int, parsed: Parsed, ci: bool) -> int:
        for idx, tok in enumerate(tokens):
            if tok.kind == "lit":
                chunk = text[pos:pos + len(tok.text)]
                if chunk != tok.text and not (ci and chunk.lower() == tok.text.lower()):
                    raise _Mismatch(pos)
                pos += len(tok.text)
            elif tok.kind == "opt":
                trial = Parsed(dict(parsed.fields), parsed.zone)
                try:
                    pos = self._parse_tokens(tok.children, text, pos, trial, ci)
                    parsed.fields, parsed.zone = trial.fields, trial.zone
                except (_Mismatch, TextParseError):
                    pass
            else:
                pos = self._parse_field(tok, tokens[idx + 1:], text, pos, parsed, ci)
        return pos

    def _widths(self, c: str, n: int) -> tuple[int, int] | None:
        """(min, max) digits of a numeric field, or None when the field is text."""
        if self.simple:
            if c in "EGaz" or (c in "ML" and n >= 3):
                return None
            return (n, n)
        if c in "GaE" or (c in "MLQqec" and n >= 3):
            return None
        if n == 1:
            return (1, 19)
        if c in "yu":
            return (2, 2) if n == 2 else (n, 19)
        if c == "D":
            return (n, 3)
        return (n, n)

    def _reserved_width(self, following: tuple[_Token, ...]) -> int:
        """Digits to leave for directly following fixed-width numeric fields (adjacent value parsing)."""
        total = 0
        for tok in following:
            widths = self._widths(tok.letter, tok.count) if tok.kind == "field" else None
            if widths is None or tok.letter in _ZONE_LETTERS or (widths[0] != widths[1] and not self.simple):
                break
            total += widths[0]
        return total

    def _parse_field(self, tok: _Token, following: tuple[_Token, ...], text: str, pos: int, parsed: Parsed,
                     ci: bool) -> int:
        c, n = tok.letter, tok.count
        if c in _ZONE_LETTERS:
            return self._parse_zone(c, n, text, pos, parsed, ci)
        names = {"G": "ERA", "y": "YEAR_OF_ERA", "u": "YEAR", "M": "MONTH", "L": "MONTH", "d": "DAY",
                 "D": "DAY_OF_YEAR", "E": "DAY_OF_WEEK", "a": "AMPM", "H": "HOUR_OF_DAY", "k": "CLOCK_HOUR_OF_DAY",
                 "K": "HOUR_OF_AMPM", "h": "CLOCK_HOUR_OF_AMPM", "m": "MINUTE", "s": "SECOND", "S": "NANO",
                 "n": "NANO", "A": "MILLI_OF_DAY", "N": "NANO_OF_DAY", "Q": "QUARTER", "q": "QUARTER",
                 "F": "ALIGNED_DOW", "e": "DAY_OF_WEEK", "c": "DAY_OF_WEEK"}
        if self.simple:
            names.update({"u": "DAY_OF_WEEK", "S": "MILLI", "Y": "YEAR", "w": "WEEK", "W": "WEEK", "F": "WEEK"})
        if c not in names:
            raise TextParseError(f"Parsing the pattern letter '{c}' is not supported")
        name = names[c]
        widths = self._widths(c, n)
        if widths is None:
            value, pos = self._parse_text(c, n, text, pos, ci)
            parsed.put(name, value)
            return pos
        low, high = widths
        reserved = self._reserved_width(following)
        next_is_number = reserved > 0
        if self.simple:
            if not next_is_number:
                low, high = 1, 19
            value, pos = _digits(text, pos, low, high, allow_sign=True)
            if c == "y" and n <= 2 and value < 100:
                value = _two_digit_year(value)
            if name == "MILLI":
                parsed.put("NANO", value % 1000 * 10**6)
                parsed.put("EXTRA_MILLIS", value)
            elif name != "WEEK":
                parsed.put(name, value)
            return pos
        if c == "S":
            value, pos = _digits(text, pos, n, n, allow_sign=False)
            parsed.put(name, value * 10 ** (9 - n))
            return pos
        if c in "yu" and n >= 3 and text[pos:pos + 1] in ("+", "-"):
            value, end = _digits(text, pos + 1, n + 1 if n >= 4 else 1, 19, allow_sign=False)
            parsed.put(name, -value if text[pos] == "-" else value)
            return end
        if low != high and reserved:
            high = max(low, min(high, _digit_count(text, pos) - reserved))
        if c in "yu" and n >= 4:
            high = low  # strict EXCEEDS_PAD: more digits than the width need an explicit '+'
        value, pos = _digits(text, pos, low, high, allow_sign=False)
        if c in "yu" and n == 2:
            value += 2000
        if c in "ec":
            value = (value + 5) % 7 + 1  # US localized (Sunday = 1) to ISO (Monday = 1)
        parsed.put(name, value)
        return pos

    def _parse_text(self, c: str, n: int, text: str, pos: int, ci: bool) -> tuple[int, int]:
        if c == "G":
            options = [(ERAS["full"][i], i) for i in range(2)] + [(ERAS["short"][i], i) for i in range(2)]
        elif c == "a":
            options = [("AM", 0), ("PM", 1)]
        elif c in "Eec":
            options = [(d, i + 1) for i, d in enumerate(DAYS)] + [(d[:3], i + 1) for i, d in enumerate(DAYS)]
        elif c in "ML":
            options = [(m, i + 1) for i, m in enumerate(MONTHS)] + [(m[:3], i + 1) for i, m in enumerate(MONTHS)]
        else:
            options = [(q, i + 1) for i, q in enumerate(QUARTERS)] + [(f"Q{i}", i) for i in range(1, 5)]
        if not self.simple and c not in "a":
            style = "short" if n <= 3 else "full" if n == 4 else "narrow"
            if style == "narrow":
                options = [(word[0], value) for word, value in options[: len(options) // 2]]
            elif c in "GEecMLQq":
                half = len(options) // 2
                options = options[half:] if style == "short" else options[:half]
        best: tuple[int, int] | None = None
        for word, value in options:
            chunk = text[pos:pos + len(word)]
            if chunk == word or (ci and chunk.lower() == word.lower()):
                if best is None or len(word) > best[1]:
                    best = (value, len(word))
        if best is None:
            raise _Mismatch(pos)
        return best[0], pos + best[1]

    def _parse_zone(self, c: str, n: int, text: str, pos: int, parsed: Parsed, ci: bool) -> int:
        rest = text[pos:]
        if c in "Xx" or (c == "Z" and n != 4):
            if (c == "X" or (c == "Z" and (n == 5 or self.simple))) and rest[:1] in ("Z", "z"):
                if rest[:1] == "Z" or ci:
                    parsed.zone = dt.timezone.utc
                    return pos + 1
            m = re.match(r"([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?", rest)
            zone = parse_offset(m.group(0)) if m else None
            if m is None or zone is None:
                raise _Mismatch(pos)
            parsed.zone = zone
            return pos + m.end()
        if c == "O" or (c == "Z" and n == 4):
            if not rest.upper().startswith("GMT"):
                raise _Mismatch(pos)
            m = re.match(r"([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?", rest[3:])
            if not m:
                parsed.zone = dt.timezone.utc
                return pos + 3
            sign, hh, mm, ss = m.group(1), int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0)
            delta = dt.timedelta(hours=hh, minutes=mm, seconds=ss)
            parsed.zone = dt.timezone(-delta if sign == "-" else delta)
            return pos + 3 + m.end()
        # V, z, v: a region id, an abbreviation such as PST, or UTC/GMT with an offset
        m = re.match(r"[A-Za-z][A-Za-z0-9~/._+-]*", rest)
        if not m:
            raise _Mismatch(pos)
        word = m.group(0)
        for candidate in sorted({word[:i] for i in range(len(word), 0, -1)}, key=len, reverse=True):
            key = candidate.upper() if ci else candidate
            if key in ZONE_ABBREVIATIONS and c != "V":
                parsed.zone = ZoneInfo(ZONE_ABBREVIATIONS[key])
                return pos + len(candidate)
            try:
                parsed.zone = zone_of(candidate)
                return pos + len(candidate)
            except ValueError:
                continue
        raise _Mismatch(pos)


class _Mismatch(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _digit_count(text: str, pos: int) -> int:
    end = pos
    while end < len(text) and text[end].isdigit() and text[end].isascii():
        end += 1
    return end - pos


def _digits(text: str, pos: int, min_width: int, max_width: int, allow_sign: bool) -> tuple[int, int]:
    sign = 1
    start = pos
    if allow_sign and text[pos:pos + 1] == "-":
        sign, pos = -1, pos + 1
    available = _digit_count(text, pos)
    take = min(available, max_width)
    if take < min_width:
        raise _Mismatch(start)
    return sign * int(text[pos:pos + take]), pos + take


def _two_digit_year(value: int) -> int:
    """SimpleDateFormat's 'yy': the century that puts the year within 80 years before / 20 after now."""
    now = dt.date.today().year
    start = now - 80
    year = start - start % 100 + value
    return year + 100 if year < start else year


@functools.lru_cache(maxsize=1000)
def compile_pattern(pattern: str, simple: bool = False) -> Pattern:
    """A cached compiled pattern (ksqlDB caches up to 1000 formatters per function)."""
    return Pattern(pattern, simple)


def resolve_simple_date(parsed: Parsed) -> dt.datetime:
    """SimpleDateFormat/Calendar (lenient) resolution in GMT, as PARSE_DATE uses it."""
    f = parsed.fields
    year = f.get("YEAR_OF_ERA", f.get("YEAR", 1970))
    if f.get("ERA", 1) == 0:
        year = 1 - year
    month = f.get("MONTH", 1)
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    if "DAY_OF_YEAR" in f and "DAY" not in f:
        base = dt.datetime(year, 1, 1) + dt.timedelta(days=f["DAY_OF_YEAR"] - 1)
    else:
        base = dt.datetime(year, month, 1) + dt.timedelta(days=f.get("DAY", 1) - 1)
    hour = f.get("HOUR_OF_DAY", 0)
    if "CLOCK_HOUR_OF_DAY" in f:
        hour = f["CLOCK_HOUR_OF_DAY"] % 24
    if "HOUR_OF_AMPM" in f or "CLOCK_HOUR_OF_AMPM" in f:
        hour = f.get("HOUR_OF_AMPM", f.get("CLOCK_HOUR_OF_AMPM", 0) % 12) + 12 * f.get("AMPM", 0)
    elif "AMPM" in f:
        hour += 12 * f["AMPM"]
    millis = f.get("EXTRA_MILLIS", f.get("NANO", 0) // 10**6)
    result = base + dt.timedelta(hours=hour, minutes=f.get("MINUTE", 0), seconds=f.get("SECOND", 0),
                                 milliseconds=millis)
    zone = parsed.zone or dt.timezone.utc
    return result.replace(tzinfo=zone).astimezone(dt.timezone.utc)

