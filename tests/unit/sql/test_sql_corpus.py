"""labkit.sql parses the statements of ksqlDB's own test suites (QTT and RQTT) that ksqlDB accepts.

The suites live outside the repository (../shared/ksqldb, or LABKIT_KSQLDB_TESTS); the test is skipped
when they are absent. Cases that expect an error are left out: some of those must fail to parse.
"""
import json
import os
from pathlib import Path

import pytest

from labkit.errors import SqlSyntaxError
from labkit.sql import parse, render

_REPO = Path(__file__).resolve().parents[3]
SUITES = Path(os.environ.get("LABKIT_KSQLDB_TESTS", _REPO.parent / "shared" / "ksqldb"))
FOLDERS = [SUITES / "qtt", SUITES / "rqtt"]


def accepted_statements():
    """(file, case, statement) for every statement of every case that expects no error.

    `{FORMAT}` is replaced by each of the case's formats (JSON when it lists none).
    """
    for folder in FOLDERS:
        for path in sorted(folder.glob("*.json")):
            for case in json.loads(path.read_text())["tests"]:
                if "expectedException" in case or "expectedError" in case:
                    continue
                for fmt in case.get("format") or ["JSON"]:
                    for statement in case.get("statements", []):
                        yield path.name, case.get("name", "?"), statement.replace("{FORMAT}", fmt)


@pytest.mark.skipif(not all(f.is_dir() for f in FOLDERS), reason=f"ksqlDB test suites not found in {SUITES}")
def test_statements_of_ksqldb_suites_parse_and_round_trip():
    total, failures, variables = 0, [], 0
    for file, case, sql in accepted_statements():
        total += 1
        variables += "${" in sql
        try:
            statements = parse(sql)
            assert len(statements) == 1, f"{len(statements)} statements"
            assert parse(render(statements[0])) == statements, f"round trip changed: {render(statements[0])}"
        except (SqlSyntaxError, AssertionError) as error:
            failures.append(f"{file} / {case}\n  {sql}\n  {error}")
    rate = 1 - len(failures) / total
    print(f"\nparsed {total - len(failures)} of {total} statements ({rate:.2%}); {variables} use ${{variables}}")
    for failure in failures:
        print(failure)
    assert total > 1000
    assert rate >= 0.99, "\n".join(failures[:20])
