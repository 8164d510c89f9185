"""labkit.config: defaults match the lessons' addresses, LABKIT_* overrides are validated."""
from pathlib import Path

import pytest

from labkit import config
from labkit.errors import ConfigError


def test_defaults_are_the_lesson_ports():
    s = config.settings({})
    assert s.bootstrap_servers == "localhost:9097,localhost:9098,localhost:9099"
    assert s.bootstrap_list == ["localhost:9097", "localhost:9098", "localhost:9099"]
    assert s.ksql_url == "http://localhost:8088" and s.ksql_port == 8088
    assert s.pizza_url == "http://localhost:8094" and s.pizza_port == 8094
    assert s.backend == "embedded"
    assert s.bind_host == "127.0.0.1"


def test_bootstrap_follows_broker_ports_unless_set():
    s = config.settings({"LABKIT_BROKER_PORTS": "9197, 9198"})
    assert s.bootstrap_servers == "localhost:9197,localhost:9198"
    s = config.settings({"LABKIT_BOOTSTRAP": "kafka.example.com:9092"})
    assert s.bootstrap_list == ["kafka.example.com:9092"]


def test_run_and_cache_dirs(tmp_path):
    s = config.settings({"LABKIT_CACHE_DIR": str(tmp_path)})
    assert s.state_dir == tmp_path / "run"
    assert s.kafka_libs_dir == tmp_path / f"kafka-{config.KAFKA_VERSION}" / "libs"
    s = config.settings({"LABKIT_CACHE_DIR": str(tmp_path), "LABKIT_RUN_DIR": str(tmp_path / "elsewhere")})
    assert s.state_dir == tmp_path / "elsewhere"


def test_xdg_cache_home_is_honoured(tmp_path):
    assert config.settings({"XDG_CACHE_HOME": str(tmp_path)}).cache_dir == Path(tmp_path) / "labkit"


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"LABKIT_BACKEND": "kubernetes"}, "choose one of embedded, compose, external"),
        ({"LABKIT_BROKER_PORTS": "abc"}, "comma-separated port numbers"),
        ({"LABKIT_BROKER_PORTS": "70000"}, "between 1 and 65535"),
        ({"LABKIT_START_TIMEOUT": "soon"}, "expected a number"),
        ({"LABKIT_BROKER_HEAP_MB": "-5"}, "greater than zero"),
        ({"LABKIT_SECURITY_PROTOCOL": "TLS"}, "SASL_SSL"),
        ({"LABKIT_SASL_MECHANISM": "PLAIN"}, "not SASL_PLAINTEXT or SASL_SSL"),
        ({"LABKIT_BROKER_PORTS": "1,2,3,4", "LABKIT_CONTROLLER_PORTS": "5"}, "one port per broker port"),
        ({"LABKIT_KSQL_URL": "http://localhost:eighty"}, "not a number"),
    ],
)
def test_bad_values_raise_config_errors_that_name_the_variable(env, fragment):
    with pytest.raises(ConfigError) as err:
        s = config.settings(env)
        s.ksql_port  # a bad URL is reported when its port is needed
    assert fragment in str(err.value)


def test_backend_is_case_insensitive():
    assert config.settings({"LABKIT_BACKEND": "Compose"}).backend == "compose"


def test_sasl_ssl_settings_reach_the_kafka_client_config():
    s = config.settings({
        "LABKIT_BOOTSTRAP": "pkc-1.cloud:9092",
        "LABKIT_SECURITY_PROTOCOL": "sasl_ssl",
        "LABKIT_SASL_MECHANISM": "PLAIN",
        "LABKIT_SASL_USERNAME": "key",
        "LABKIT_SASL_PASSWORD": "secret",
        "LABKIT_SSL_CAFILE": "/etc/ssl/ca.pem",
    })
    assert s.kafka_client_config() == {
        "bootstrap_servers": ["pkc-1.cloud:9092"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "key",
        "sasl_plain_password": "secret",
        "ssl_cafile": "/etc/ssl/ca.pem",
    }


def test_sasl_ssl_settings_reach_the_librdkafka_config_of_the_engine():
    s = config.settings({
        "LABKIT_BOOTSTRAP": "pkc-1.cloud:9092,pkc-2.cloud:9092",
        "LABKIT_SECURITY_PROTOCOL": "sasl_ssl",
        "LABKIT_SASL_MECHANISM": "PLAIN",
        "LABKIT_SASL_USERNAME": "key",
        "LABKIT_SASL_PASSWORD": "secret",
        "LABKIT_SSL_CAFILE": "/etc/ssl/ca.pem",
    })
    assert s.librdkafka_config() == {
        "bootstrap.servers": "pkc-1.cloud:9092,pkc-2.cloud:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "key",
        "sasl.password": "secret",
        "ssl.ca.location": "/etc/ssl/ca.pem",
    }
    assert config.settings({}).librdkafka_config() == {
        "bootstrap.servers": "localhost:9097,localhost:9098,localhost:9099"}


def test_plaintext_client_config_has_only_bootstrap():
    assert config.settings({}).kafka_client_config() == {
        "bootstrap_servers": ["localhost:9097", "localhost:9098", "localhost:9099"]}


def test_ksql_key_and_secret_become_basic_auth():
    assert config.settings({}).ksql_auth() is None
    s = config.settings({"LABKIT_KSQL_API_KEY": "K", "LABKIT_KSQL_API_SECRET": "S"})
    assert s.ksql_auth() == ("K", "S")


def test_with_overrides_returns_a_changed_copy():
    s = config.settings({})
    t = s.with_overrides(backend="compose")
    assert t.backend == "compose" and s.backend == "embedded"
