"""ksqlDB's basic authentication on labkit's engine, and labkit.ksql sending credentials from its settings.

An engine process of the test's own is started the way `labkit up` starts it, with
LABKIT_KSQL_AUTH_FILE pointing at a JAAS file whose realm names a Jetty-style password file, as ksqlDB's
docs describe (`authentication.method=BASIC`, `authentication.realm=KsqlServer-Props`,
`authentication.roles=...`). Requests without or with wrong credentials get 401 and ksqlDB's error body.
"""
from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from labkit import config
from labkit.errors import ConfigError
from labkit.ksql import KsqlClient, KsqlResponseError
from labkit.server.auth import PasswordFile, load_credentials

UNAUTHORIZED_BODY = {"@type": "generic_error", "error_code": 40100, "message": "Unauthorized"}
FORBIDDEN_BODY = {"@type": "generic_error", "error_code": 40300, "message": "Forbidden"}
MD5_SECRET = "s3cr3t md5"


def write_credentials(folder) -> tuple[str, str]:
    """A JAAS file naming a password file with three users; returns (jaas path, password-file path)."""
    passwords = folder / "password-file"
    passwords.write_text("# user: password[,role...]\n"
                         "fred: letmein,admin,developer\n"
                         f"harry: MD5:{hashlib.md5(MD5_SECRET.encode()).hexdigest()},user\n"
                         "tom: changeme,guest\n")
    jaas = folder / "jaas_config.conf"
    jaas.write_text("KsqlServer-Props {\n"
                    "  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n"
                    f'  file="{passwords}"\n'
                    '  debug="false";\n'
                    "};\n")
    return str(jaas), str(passwords)


# ---------------------------------------------------------------------------------------------- files

def test_password_file_lines_give_users_and_roles():
    users = PasswordFile.parse("fred: letmein,admin,developer\nharry = pw\n\n# comment\n! also a comment\n")
    assert users.check("fred", "letmein") == ("admin", "developer")
    assert users.check("harry", "pw") == ()
    assert users.check("fred", "LETMEIN") is None
    assert users.check("nobody", "letmein") is None


def test_md5_passwords_are_checked_by_digest(tmp_path):
    jaas, _ = write_credentials(tmp_path)
    users = load_credentials(jaas)
    assert users.check("harry", MD5_SECRET) == ("user",)
    assert users.check("harry", hashlib.md5(MD5_SECRET.encode()).hexdigest()) is None


def test_the_password_file_can_be_named_directly(tmp_path):
    _, passwords = write_credentials(tmp_path)
    assert load_credentials(passwords).check("tom", "changeme") == ("guest",)


@pytest.mark.parametrize("text, fragment", [
    ("fred letmein\n", "line 1: expected `user: password"),
    ("fred: OBF:1w8t1tvf1w261w8v1w1c1tvn1w8x,user\n", "OBF: and CRYPT: passwords are not supported"),
    ("fred:\n", "line 1"),
])
def test_bad_password_files_are_config_errors_naming_the_line(tmp_path, text, fragment):
    path = tmp_path / "pw"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_credentials(path)


def test_a_jaas_file_without_the_realm_is_a_config_error(tmp_path):
    jaas, _ = write_credentials(tmp_path)
    with pytest.raises(ConfigError, match="no JAAS section for the realm 'Other'"):
        load_credentials(jaas, realm="Other")
    with pytest.raises(ConfigError, match="Cannot read"):
        load_credentials(tmp_path / "missing.conf")


def test_settings_read_the_auth_variables(tmp_path):
    jaas, _ = write_credentials(tmp_path)
    s = config.settings({"LABKIT_KSQL_AUTH_FILE": jaas, "LABKIT_KSQL_AUTH_ROLES": "admin, user",
                         "LABKIT_KSQL_USER": "fred", "LABKIT_KSQL_PASSWORD": "letmein"})
    assert s.ksql_server_requires_auth and str(s.ksql_auth_file) == jaas
    assert s.ksql_auth_roles == ("admin", "user") and s.ksql_auth_realm == "KsqlServer-Props"
    assert s.ksql_auth() == ("fred", "letmein")
    assert not config.settings({}).ksql_server_requires_auth
    with pytest.raises(ConfigError, match="needs LABKIT_KSQL_AUTH_FILE"):
        config.settings({"LABKIT_KSQL_AUTH_METHOD": "BASIC"})
    with pytest.raises(ConfigError, match="choose one of NONE, BASIC"):
        config.settings({"LABKIT_KSQL_AUTH_METHOD": "KERBEROS", "LABKIT_KSQL_AUTH_FILE": jaas})


# ---------------------------------------------------------------------------------------------- live engine

@pytest.fixture(scope="module")
def secured_engine(cluster, settings, tmp_path_factory):
    """An engine process with basic authentication: users fred (admin) and harry (user) may in, tom may not."""
    from reliability_support import EngineFactory

    folder = tmp_path_factory.mktemp("auth")
    jaas, _ = write_credentials(folder)
    factory = EngineFactory(settings, tmp_path_factory)
    process = factory.start(env={"LABKIT_KSQL_AUTH_FILE": jaas, "LABKIT_KSQL_AUTH_ROLES": "admin,developer,user"},
                            ksql_api_key="fred", ksql_api_secret="letmein")
    yield process
    factory.stop_all()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


REQUESTS = [("POST", "/ksql", {"ksql": "SHOW STREAMS;"}), ("POST", "/query-stream", {"sql": "SHOW STREAMS;"}),
            ("POST", "/query", {"ksql": "SELECT 1;"}), ("POST", "/close-query", {"queryId": "x"}),
            ("GET", "/info", None), ("GET", "/healthcheck", None), ("GET", "/status", None), ("GET", "/", None)]


@pytest.mark.parametrize("method, path, body", REQUESTS, ids=[f"{m} {p}" for m, p, _ in REQUESTS])
@pytest.mark.parametrize("headers", [{}, basic("fred", "wrong"), basic("nobody", "letmein"), basic("fred", ""),
                                     {"Authorization": "Basic !!!notbase64"}, {"Authorization": "Bearer abc"},
                                     {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}],
                         ids=["none", "wrong-password", "unknown-user", "empty-password", "garbage", "bearer",
                              "no-colon"])
def test_requests_without_valid_credentials_get_401_with_ksqldb_error(secured_engine, method, path, body, headers):
    response = httpx.request(method, secured_engine.settings.ksql_url + path, json=body, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED_BODY
    assert response.headers["www-authenticate"] == 'Basic realm="KsqlServer-Props"'


def test_a_user_without_an_allowed_role_gets_403(secured_engine):
    response = httpx.post(secured_engine.settings.ksql_url + "/ksql", json={"ksql": "SHOW STREAMS;"},
                          headers=basic("tom", "changeme"), timeout=30)
    assert response.status_code == 403 and response.json() == FORBIDDEN_BODY


@pytest.mark.parametrize("user, password", [("fred", "letmein"), ("harry", MD5_SECRET)])
def test_valid_credentials_are_served(secured_engine, user, password):
    response = httpx.post(secured_engine.settings.ksql_url + "/ksql", json={"ksql": "SHOW STREAMS;"},
                          headers=basic(user, password), timeout=30)
    assert response.status_code == 200 and response.json()[0]["@type"] == "streams"


def test_liveness_and_readiness_probes_need_no_credentials(secured_engine):
    for path in ("/chc/live", "/chc/ready"):
        response = httpx.get(secured_engine.settings.ksql_url + path, timeout=30)
        assert response.status_code == 200 and response.json() == {}


def test_the_client_sends_credentials_from_labkit_settings(secured_engine, monkeypatch):
    monkeypatch.setenv("LABKIT_KSQL_URL", secured_engine.settings.ksql_url)
    monkeypatch.setenv("LABKIT_KSQL_USER", "harry")
    monkeypatch.setenv("LABKIT_KSQL_PASSWORD", MD5_SECRET)
    with KsqlClient() as client:
        assert client.info()["ksqlServiceId"] == secured_engine.settings.ksql_service_id
        assert [e["@type"] for e in client.execute("SHOW STREAMS;")] == ["streams"]
        with client.push("SELECT * FROM KSQL_PROCESSING_LOG EMIT CHANGES;", timeout=1) as rows:
            assert rows.query_id and list(rows) == []


def test_the_client_reports_wrong_credentials_as_a_401_error(secured_engine, monkeypatch):
    monkeypatch.setenv("LABKIT_KSQL_URL", secured_engine.settings.ksql_url)
    monkeypatch.setenv("LABKIT_KSQL_USER", "harry")
    monkeypatch.setenv("LABKIT_KSQL_PASSWORD", "not-it")
    with KsqlClient() as client, pytest.raises(KsqlResponseError) as caught:
        client.execute("SHOW STREAMS;")
    assert caught.value.status_code == 401 and caught.value.error_code == 40100
    assert caught.value.message == "Unauthorized"


def test_an_engine_with_an_unreadable_credentials_file_refuses_to_start(engine_factory, tmp_path):
    from labkit.cluster.engine_process import EngineStartError

    with pytest.raises(EngineStartError, match="Cannot read the ksqlDB credentials file"):
        engine_factory.start(env={"LABKIT_KSQL_AUTH_FILE": str(tmp_path / "missing.conf")}, timeout=60)
