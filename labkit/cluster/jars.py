"""Find Java and Maven, and fetch the Apache Kafka jars with Maven into a cache outside the repository.

The jars come from Maven Central through `kafka-pom.xml` (kafka_2.13 plus the log4j binding it lacks).
A marker file makes the second `make setup` instant.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from labkit.config import Settings
from labkit.errors import ClusterError, ToolMissingError

POM = Path(__file__).with_name("kafka-pom.xml")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MIN_JAVA = 17
_MARKER = ".complete"


def find_java() -> str:
    """Path of a `java` of version 17 or newer, or a ToolMissingError saying what to install."""
    java = shutil.which("java")
    if java is None:
        raise ToolMissingError(
            "Java is not installed (Kafka needs Java 17 or newer). "
            "Install it with `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) "
            "or `brew install openjdk@17` (macOS), then run the command again."
        )
    version = java_major_version(_java_version_text(java))
    if version is not None and version < MIN_JAVA:
        raise ToolMissingError(
            f"Java {version} is installed, but Kafka {MIN_JAVA}+ is needed. Install OpenJDK 17 or newer "
            "and make it the first `java` on your PATH."
        )
    return java


def _java_version_text(java: str) -> str:
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(f"`{java} -version` failed ({exc}); check your Java installation.") from None
    return done.stderr + done.stdout


def java_major_version(text: str) -> int | None:
    """The major version from `java -version` output ('1.8.0_292' → 8, '17.0.15' → 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def find_maven() -> str:
    """Path of `mvn`, or a ToolMissingError saying what to install."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissingError(
            "Maven (mvn) is not installed; labkit uses it to fetch Apache Kafka from Maven Central. "
            "Install it with `sudo apt-get install maven` (Debian/Ubuntu) or `brew install maven` (macOS)."
        )
    return mvn


def jars_ready(settings: Settings) -> bool:
    """True when the Kafka jars of the configured version are complete in the cache."""
    return (settings.kafka_libs_dir / _MARKER).exists()


def classpath(settings: Settings) -> str:
    """The JVM classpath (a wildcard over the cached jars)."""
    return str(settings.kafka_libs_dir / "*")


def ensure_kafka_jars(settings: Settings, *, quiet: bool = False) -> Path:
    """Fetch the Kafka jars with Maven unless already cached; returns the folder that holds them."""
    libs = settings.kafka_libs_dir
    if jars_ready(settings):
        return libs
    mvn = find_maven()
    find_java()
    if not quiet:
        print(f"Fetching Apache Kafka {settings.kafka_version} with Maven into {libs} (first time only, ~45 MB)…",
              file=sys.stderr, flush=True)
    libs.mkdir(parents=True, exist_ok=True)
    command = [
        mvn, "-B", "-q", "-f", str(POM), f"-Dkafka.version={settings.kafka_version}",
        f"{DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ClusterError(
            f"Maven could not fetch Apache Kafka {settings.kafka_version} (exit code {done.returncode}).\n{tail}\n"
            "Check your network access to Maven Central (https://repo.maven.apache.org) and try again."
        )
    names = sorted(p.name for p in libs.glob("*.jar"))
    required = [f"kafka_2.13-{settings.kafka_version}.jar", "log4j-core", "log4j-slf4j-impl"]
    missing = [r for r in required if not any(n.startswith(r) for n in names)]
    if missing:
        raise ClusterError(f"Maven finished but these jars are missing from {libs}: {', '.join(missing)}.")
    (libs / _MARKER).write_text("\n".join(names) + "\n")
    return libs
