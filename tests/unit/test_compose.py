"""compose/docker-compose.yml and labkit.cluster.compose, without a Docker engine.

The compose file is checked by structure: the listener, host and port settings that make ksqlDB (inside the
Docker network) and the notebooks (on the host) both reach the brokers. ComposeBackend is driven by a fake
`docker` program that records its arguments and answers from a scenario file.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from labkit.cluster.compose import DEFAULT_COMPOSE_FILE, ComposeBackend, ServiceState, parse_ps_output
from labkit.errors import ClusterError, ToolMissingError

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
KAFKA_SERVICES = ["kafka1", "kafka2", "kafka3"]
HOST_PORTS = {"kafka1": 9097, "kafka2": 9098, "kafka3": 9099}


# -- helpers ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open(encoding="utf-8") as file:
        return yaml.safe_load(file)


def env(compose: dict, service: str) -> dict[str, str]:
    """A service's environment as strings (the list form `KEY=value` is accepted too)."""
    environment = compose["services"][service].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def listeners(text: str) -> dict[str, tuple[str, int]]:
    """'INTERNAL://kafka1:29092,EXTERNAL://127.0.0.1:9097' → {'INTERNAL': ('kafka1', 29092), ...}."""
    result: dict[str, tuple[str, int]] = {}
    for entry in text.split(","):
        name, address = entry.strip().split("://", 1)
        host, port = address.rsplit(":", 1)
        result[name] = (host, int(port))
    return result


def published(compose: dict, service: str) -> list[tuple[str, int, int]]:
    """A service's published ports as (host ip, host port, container port), short or long syntax."""
    ports = []
    for entry in compose["services"][service].get("ports") or []:
        if isinstance(entry, dict):
            ports.append((str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split(":")
        if len(parts) == 3:
            ports.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            ports.append(("", int(parts[0]), int(parts[1])))
        else:
            ports.append(("", int(parts[0]), int(parts[0])))
    return ports


# -- the compose file: brokers ---------------------------------------------------------------------------


def test_compose_file_has_no_obsolete_top_level_version_key(compose: dict) -> None:
    assert "version" not in compose


def test_compose_file_defines_three_cp_kafka_7_5_3_brokers(compose: dict) -> None:
    kafka = sorted(
        name for name, service in compose["services"].items() if "cp-kafka" in str(service.get("image"))
    )
    assert kafka == KAFKA_SERVICES
    for name in kafka:
        assert compose["services"][name]["image"] == "confluentinc/cp-kafka:7.5.3"


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_every_node_is_broker_and_controller(compose: dict, service: str) -> None:
    roles = {role.strip() for role in env(compose, service)["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}


def test_all_nodes_share_one_voters_list_naming_every_node(compose: dict) -> None:
    voters = {env(compose, service)["KAFKA_CONTROLLER_QUORUM_VOTERS"] for service in KAFKA_SERVICES}
    assert len(voters) == 1, f"the nodes disagree on the voters: {voters}"
    entries = set(voters.pop().split(","))
    assert entries == {"1@kafka1:29093", "2@kafka2:29093", "3@kafka3:29093"}


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_each_node_is_the_voter_of_its_own_id_on_its_controller_port(compose: dict, service: str) -> None:
    settings = env(compose, service)
    voters = dict(entry.split("@") for entry in settings["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
    node_id = settings["KAFKA_NODE_ID"]
    assert node_id in voters, f"{service}: node id {node_id} is not a voter"
    voter_host, voter_port = voters[node_id].rsplit(":", 1)
    assert voter_host == compose["services"][service].get("hostname") == service
    assert int(voter_port) == listeners(settings["KAFKA_LISTENERS"])["CONTROLLER"][1]


def test_node_ids_are_distinct(compose: dict) -> None:
    assert sorted(env(compose, service)["KAFKA_NODE_ID"] for service in KAFKA_SERVICES) == ["1", "2", "3"]


def test_all_nodes_share_one_cluster_id(compose: dict) -> None:
    cluster_ids = {env(compose, service).get("CLUSTER_ID", "") for service in KAFKA_SERVICES}
    assert len(cluster_ids) == 1
    assert len(cluster_ids.pop()) == 22  # base64 of a 16-byte UUID, as `kafka-storage random-uuid` prints


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_every_advertised_listener_names_a_host(compose: dict, service: str) -> None:
    advertised_text = env(compose, service)["KAFKA_ADVERTISED_LISTENERS"]
    assert "://:" not in advertised_text
    for name, (host, _port) in listeners(advertised_text).items():
        assert host and host != "0.0.0.0", f"{service}: {name} is advertised without a reachable host"


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_internal_listener_advertises_the_container_hostname(compose: dict, service: str) -> None:
    advertised = listeners(env(compose, service)["KAFKA_ADVERTISED_LISTENERS"])
    assert advertised["INTERNAL"][0] == compose["services"][service]["hostname"] == service


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_controller_listener_is_not_advertised(compose: dict, service: str) -> None:
    advertised = listeners(env(compose, service)["KAFKA_ADVERTISED_LISTENERS"])
    assert "CONTROLLER" not in advertised
    assert set(advertised) == {"INTERNAL", "EXTERNAL"}


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_listener_names_are_bound_mapped_and_used_consistently(compose: dict, service: str) -> None:
    settings = env(compose, service)
    bound = listeners(settings["KAFKA_LISTENERS"])
    protocol_map = settings["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    protocols = dict(entry.split(":") for entry in protocol_map.split(","))
    assert set(bound) == {"INTERNAL", "EXTERNAL", "CONTROLLER"}
    assert set(listeners(settings["KAFKA_ADVERTISED_LISTENERS"])) <= set(bound)
    assert set(bound) <= set(protocols)
    assert settings["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert settings["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    for name, (_host, port) in bound.items():
        if name != "EXTERNAL":
            assert port in (29092, 29093), f"{service}: {name} on unexpected port {port}"


@pytest.mark.parametrize("service", KAFKA_SERVICES)
def test_external_advertised_port_is_the_published_host_port_and_the_listener_port(
    compose: dict, service: str
) -> None:
    settings = env(compose, service)
    external_host, external_port = listeners(settings["KAFKA_ADVERTISED_LISTENERS"])["EXTERNAL"]
    assert external_host in ("127.0.0.1", "localhost")
    assert external_port == HOST_PORTS[service]
    assert published(compose, service) == [("127.0.0.1", external_port, external_port)]
    assert listeners(settings["KAFKA_LISTENERS"])["EXTERNAL"][1] == external_port


def test_host_ports_are_published_on_loopback_only(compose: dict) -> None:
    all_published = {
        (name, host_ip, host_port)
        for name in compose["services"]
        for host_ip, host_port, _container_port in published(compose, name)
    }
    assert all_published == {
        ("kafka1", "127.0.0.1", 9097),
        ("kafka2", "127.0.0.1", 9098),
        ("kafka3", "127.0.0.1", 9099),
        ("ksqldb-server", "127.0.0.1", 8088),
    }


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true"),
        ("KAFKA_NUM_PARTITIONS", "1"),
        ("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"),
        ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
        ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2"),
    ],
)
def test_broker_topic_defaults_match_the_embedded_backend(
    compose: dict, variable: str, expected: str
) -> None:
    for service in KAFKA_SERVICES:
        assert env(compose, service).get(variable) == expected, f"{service}: {variable}"


# -- the compose file: ksqlDB ----------------------------------------------------------------------------


def test_ksqldb_images_are_0_29_0(compose: dict) -> None:
    assert compose["services"]["ksqldb-server"]["image"] == "confluentinc/ksqldb-server:0.29.0"
    assert compose["services"]["ksqldb-cli"]["image"] == "confluentinc/ksqldb-cli:0.29.0"


def test_ksqldb_bootstraps_on_every_brokers_internal_listener(compose: dict) -> None:
    internal = {
        listeners(env(compose, service)["KAFKA_ADVERTISED_LISTENERS"])["INTERNAL"]: service
        for service in KAFKA_SERVICES
    }
    external = {
        listeners(env(compose, service)["KAFKA_LISTENERS"])["EXTERNAL"][1] for service in KAFKA_SERVICES
    }
    reached = []
    for address in env(compose, "ksqldb-server")["KSQL_BOOTSTRAP_SERVERS"].split(","):
        host, port = address.strip().rsplit(":", 1)
        assert int(port) not in external, f"{address} is an EXTERNAL listener (advertises 127.0.0.1)"
        assert (host, int(port)) in internal, f"{address} is no broker's INTERNAL listener"
        reached.append(internal[(host, int(port))])
    assert sorted(reached) == KAFKA_SERVICES


@pytest.mark.parametrize(
    "variable",
    [
        "KSQL_KSQL_INTERNAL_TOPIC_REPLICAS",
        "KSQL_KSQL_STREAMS_REPLICATION_FACTOR",
        "KSQL_KSQL_LOGGING_PROCESSING_TOPIC_REPLICATION_FACTOR",
    ],
)
def test_ksqldb_internal_topics_have_three_replicas(compose: dict, variable: str) -> None:
    assert env(compose, "ksqldb-server").get(variable) == "3"


def test_ksqldb_keeps_the_processing_log_auto_create_settings(compose: dict) -> None:
    settings = env(compose, "ksqldb-server")
    assert settings.get("KSQL_KSQL_LOGGING_PROCESSING_STREAM_AUTO_CREATE") == "true"
    assert settings.get("KSQL_KSQL_LOGGING_PROCESSING_TOPIC_AUTO_CREATE") == "true"


def test_ksqldb_leaves_auto_offset_reset_at_its_default_latest(compose: dict) -> None:
    assert "KSQL_KSQL_STREAMS_AUTO_OFFSET_RESET" not in env(compose, "ksqldb-server")


def test_ksqldb_listens_on_8088(compose: dict) -> None:
    assert env(compose, "ksqldb-server")["KSQL_LISTENERS"] == "http://0.0.0.0:8088"


@pytest.mark.parametrize("service", [*KAFKA_SERVICES, "ksqldb-server"])
def test_service_has_a_health_check(compose: dict, service: str) -> None:
    healthcheck = compose["services"][service].get("healthcheck") or {}
    assert not healthcheck.get("disable", False)
    test = healthcheck.get("test")
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    assert int(healthcheck.get("retries", 0)) > 0
    probe = " ".join(test[1:])
    if service in KAFKA_SERVICES:
        internal_port = listeners(env(compose, service)["KAFKA_LISTENERS"])["INTERNAL"][1]
        assert f":{internal_port}" in probe, "the broker health check should probe a bound listener"
    else:
        assert "8088/healthcheck" in probe and "isHealthy" in probe


def test_ksqldb_server_waits_for_all_brokers_to_be_healthy(compose: dict) -> None:
    depends_on = compose["services"]["ksqldb-server"].get("depends_on")
    assert isinstance(depends_on, dict), "depends_on needs the long form to carry conditions"
    assert {name: rule.get("condition") for name, rule in depends_on.items()} == {
        service: "service_healthy" for service in KAFKA_SERVICES
    }


def test_ksqldb_cli_waits_for_the_server_to_be_healthy(compose: dict) -> None:
    depends_on = compose["services"]["ksqldb-cli"].get("depends_on")
    assert depends_on == {"ksqldb-server": {"condition": "service_healthy"}}


def test_material_container_names_are_kept_for_docker_exec(compose: dict) -> None:
    # The material runs `docker exec -it ksqldb-cli ksql http://ksqldb-server:8088`.
    for service in [*KAFKA_SERVICES, "ksqldb-server", "ksqldb-cli"]:
        assert compose["services"][service].get("container_name") == service


# -- parsing `docker compose ps --format json` -----------------------------------------------------------

PS_ARRAY = json.dumps(
    [  # Compose 2.0 - 2.20: one JSON array
        {"Name": "kafka1", "Service": "kafka1", "State": "running", "Health": "healthy", "ExitCode": 0},
        {"Name": "ksqldb-server", "Service": "ksqldb-server", "State": "running", "Health": "starting"},
        {"Name": "ksqldb-cli", "Service": "ksqldb-cli", "State": "exited", "Health": "", "ExitCode": 1},
    ]
)
PS_LINES = "\n".join(  # Compose 2.21 and later: one JSON object per line
    json.dumps(record)
    for record in [
        {"Name": "kafka1", "Service": "kafka1", "State": "running", "Health": "healthy",
         "Status": "Up 2 minutes (healthy)"},
        {"Name": "ksqldb-server", "Service": "ksqldb-server", "State": "running", "Health": "starting",
         "Status": "Up 5 seconds (health: starting)"},
        {"Name": "ksqldb-cli", "Service": "ksqldb-cli", "State": "exited", "Health": "",
         "Status": "Exited (1) 3 seconds ago"},
    ]
) + "\n"


@pytest.mark.parametrize("output", [PS_ARRAY, PS_LINES], ids=["json-array", "json-lines"])
def test_parse_ps_output_reads_both_shapes(output: str) -> None:
    assert parse_ps_output(output) == {
        "kafka1": ServiceState("kafka1", "running", "healthy"),
        "ksqldb-server": ServiceState("ksqldb-server", "running", "starting"),
        "ksqldb-cli": ServiceState("ksqldb-cli", "exited", ""),
    }


@pytest.mark.parametrize("output", ["", "\n", "[]"])
def test_parse_ps_output_without_containers_is_empty(output: str) -> None:
    assert parse_ps_output(output) == {}


def test_parse_ps_output_finds_health_in_state_or_status_of_old_versions() -> None:
    output = json.dumps(
        [
            {"Service": "kafka1", "State": "running (healthy)"},
            {"Service": "kafka2", "State": "running", "Status": "Up 9 seconds (health: starting)"},
            {"Service": "kafka3", "State": "running", "Status": "Up 1 minute (unhealthy)"},
        ]
    )
    states = parse_ps_output(output)
    assert {name: (state.state, state.health) for name, state in states.items()} == {
        "kafka1": ("running", "healthy"),
        "kafka2": ("running", "starting"),
        "kafka3": ("running", "unhealthy"),
    }


def test_parse_ps_output_rejects_garbage_with_a_cluster_error() -> None:
    with pytest.raises(ClusterError, match="docker compose ps"):
        parse_ps_output("Error: something went wrong\n")


@pytest.mark.parametrize(
    ("state", "ready"),
    [
        (ServiceState("kafka1", "running", "healthy"), True),
        (ServiceState("ksqldb-cli", "running", ""), True),
        (ServiceState("kafka1", "running", "starting"), False),
        (ServiceState("kafka1", "running", "unhealthy"), False),
        (ServiceState("kafka1", "restarting", ""), False),
        (ServiceState("kafka1", "exited", ""), False),
    ],
)
def test_service_is_ready_only_when_running_and_not_unhealthy(state: ServiceState, ready: bool) -> None:
    assert state.ready is ready


# -- ComposeBackend with a fake docker -------------------------------------------------------------------

FAKE_DOCKER = textwrap.dedent(
    """\
    #!{python}
    # A stand-in for the Docker CLI: records its arguments, answers from scenario.json.
    import json, sys
    from pathlib import Path

    here = Path(__file__).parent
    scenario = json.loads((here / "scenario.json").read_text())
    args = sys.argv[1:]
    with (here / "calls.jsonl").open("a") as log:
        log.write(json.dumps(args) + "\\n")

    if args[:2] == ["compose", "version"]:
        if scenario.get("compose_missing"):
            sys.stderr.write("docker: unknown command: docker compose\\n\\nRun 'docker --help'\\n")
            sys.exit(1)
        print("Docker Compose version v2.29.1")
    elif args[:1] == ["info"]:
        if scenario.get("engine_down"):
            sys.stderr.write("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                             "Is the docker daemon running?\\n")
            sys.exit(1)
        print("27.1.1")
    elif args[:1] == ["compose"]:
        command = args[3:]  # after: compose -f <file>
        if command[:2] == ["config", "--services"]:
            print("\\n".join(scenario["services"]))
        elif command[:1] == ["ps"]:
            counter = here / "ps_count"
            count = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(count + 1))
            answers = scenario["ps"]
            print(answers[min(count, len(answers) - 1)])
        elif command[:1] in (["up"], ["down"]):
            print(f"Container kafka1  {{command[0]}}")
            sys.exit(scenario.get("up_rc", 0))
        else:
            sys.exit(2)
    else:
        sys.exit(2)
    """
)


def ps_lines(states: dict[str, tuple[str, str]]) -> str:
    return "\n".join(
        json.dumps({"Name": name, "Service": name, "State": state, "Health": health})
        for name, (state, health) in states.items()
    )


SERVICES = ["kafka1", "kafka2", "kafka3", "ksqldb-server", "ksqldb-cli"]
ALL_HEALTHY = ps_lines(
    {
        "kafka1": ("running", "healthy"),
        "kafka2": ("running", "healthy"),
        "kafka3": ("running", "healthy"),
        "ksqldb-server": ("running", "healthy"),
        "ksqldb-cli": ("running", ""),
    }
)
KAFKA2_UNHEALTHY = ps_lines(
    {
        "kafka1": ("running", "healthy"),
        "kafka2": ("running", "unhealthy"),
        "kafka3": ("running", "healthy"),
        "ksqldb-server": ("running", "starting"),
        "ksqldb-cli": ("created", ""),
    }
)


@pytest.fixture
def fake_docker(tmp_path: Path):
    """Returns a function that writes a scenario and gives (docker executable path, recorded calls)."""
    executable = tmp_path / "docker"
    executable.write_text(FAKE_DOCKER.format(python=sys.executable))
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)

    def install(**scenario) -> str:
        scenario.setdefault("services", SERVICES)
        scenario.setdefault("ps", [ALL_HEALTHY])
        (tmp_path / "scenario.json").write_text(json.dumps(scenario))
        return str(executable)

    def calls() -> list[list[str]]:
        log = tmp_path / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    install.calls = calls  # type: ignore[attr-defined]
    return install


def test_default_compose_file_is_the_one_next_to_the_package() -> None:
    assert DEFAULT_COMPOSE_FILE == COMPOSE_FILE
    assert ComposeBackend().compose_file == COMPOSE_FILE


def test_command_is_an_argument_list_with_the_compose_file() -> None:
    backend = ComposeBackend("/somewhere/docker-compose.yml", docker="docker")
    assert backend.command("ps", "--format", "json") == [
        "docker", "compose", "-f", "/somewhere/docker-compose.yml", "ps", "--format", "json",
    ]


def test_missing_docker_raises_tool_missing_error_saying_what_to_install(monkeypatch) -> None:
    monkeypatch.setenv("PATH", os.devnull)
    backend = ComposeBackend(docker="docker", progress=lambda line: None)
    with pytest.raises(ToolMissingError, match="Install Docker") as raised:
        backend.up(timeout=1)
    assert "no `docker` program on PATH" in str(raised.value)


def test_missing_compose_plugin_raises_tool_missing_error(fake_docker) -> None:
    backend = ComposeBackend(docker=fake_docker(compose_missing=True), progress=lambda line: None)
    with pytest.raises(ToolMissingError, match="docker-compose-plugin") as raised:
        backend.status()
    assert "unknown command: docker compose" in str(raised.value)


def test_stopped_engine_raises_tool_missing_error_saying_how_to_start_it(fake_docker) -> None:
    backend = ComposeBackend(docker=fake_docker(engine_down=True), progress=lambda line: None)
    with pytest.raises(ToolMissingError, match="engine is not running") as raised:
        backend.up(timeout=1)
    assert "Start Docker Desktop" in str(raised.value)
    assert "Cannot connect to the Docker daemon" in str(raised.value)


def test_up_creates_starts_and_waits_until_every_service_is_healthy(fake_docker) -> None:
    starting = ps_lines({name: ("running", "starting") for name in SERVICES[:4]})
    docker = fake_docker(ps=[starting, KAFKA2_UNHEALTHY, ALL_HEALTHY])
    lines: list[str] = []
    ComposeBackend(COMPOSE_FILE, docker=docker, progress=lines.append, poll_interval=0.01).up(timeout=30)

    calls = [call for call in fake_docker.calls() if call[:2] == ["compose", "-f"]]
    assert {call[2] for call in calls} == {str(COMPOSE_FILE)}
    compose_calls = [call[3:] for call in calls]
    assert ["up", "--no-start"] in compose_calls
    assert compose_calls.index(["up", "--no-start"]) < compose_calls.index(["up", "--detach"])
    assert sum(1 for call in compose_calls if call[:1] == ["ps"]) == 3
    assert "  kafka2: running (starting)" in lines
    assert "  kafka2: running (unhealthy)" in lines
    assert "  kafka2: running (healthy)" in lines
    assert lines[-1] == "All 5 services are up and healthy."


def test_up_times_out_naming_the_unhealthy_services_and_their_logs(fake_docker) -> None:
    docker = fake_docker(ps=[KAFKA2_UNHEALTHY])
    backend = ComposeBackend(COMPOSE_FILE, docker=docker, progress=lambda line: None, poll_interval=0.01)
    with pytest.raises(ClusterError) as raised:
        backend.up(timeout=0.3)
    message = str(raised.value)
    assert "kafka2 (running (unhealthy))" in message
    assert "ksqldb-server (running (starting))" in message
    assert "kafka1 (" not in message
    assert "logs kafka2 ksqldb-server ksqldb-cli" in message


def test_up_reports_compose_failure_with_its_output(fake_docker) -> None:
    docker = fake_docker(up_rc=1)
    backend = ComposeBackend(COMPOSE_FILE, docker=docker, progress=lambda line: None)
    with pytest.raises(ClusterError, match="could not create the containers") as raised:
        backend.up(timeout=5)
    assert "Container kafka1  up" in str(raised.value)


def test_status_reports_state_and_health_of_every_service(fake_docker) -> None:
    docker = fake_docker(ps=[ps_lines({"kafka1": ("running", "healthy"), "ksqldb-cli": ("exited", "")})])
    status = ComposeBackend(COMPOSE_FILE, docker=docker).status()
    assert status["kafka1"] == {"state": "running", "health": "healthy"}
    assert status["ksqldb-cli"] == {"state": "exited", "health": ""}
    assert status["kafka2"] == {"state": "absent", "health": ""}
    assert list(status) == SERVICES


def test_down_removes_containers_and_volumes(fake_docker) -> None:
    docker = fake_docker()
    ComposeBackend(COMPOSE_FILE, docker=docker, progress=lambda line: None).down()
    down = ["compose", "-f", str(COMPOSE_FILE), "down", "--volumes", "--remove-orphans"]
    assert down in fake_docker.calls()
