"""Kafka: the broker's jars from Maven Central (deploy/kafka/pom.xml), one KRaft broker+controller per home."""

from __future__ import annotations

import subprocess
from pathlib import Path

from paht_devstack.config import KAFKA_CLUSTER_ID, ROOT, Config, say
from paht_devstack.processes import port_open, require_free, running_pid, spawn, wait_for

TEMPLATES = ROOT / "deploy" / "kafka"


def home(cfg: Config) -> Path:
    return cfg.infra / "kafka"


def fetch_jars(cfg: Config) -> Path:
    libs = home(cfg) / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    say("Kafka: fetching broker jars with Maven (once)")
    libs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *("mvn", "-q", "-B", "-f", str(TEMPLATES / "pom.xml"), "dependency:copy-dependencies"),
            *(f"-DoutputDirectory={libs}", "-DincludeScope=runtime"),
        ],
        check=True,
    )
    marker.touch()
    return libs


def start(cfg: Config) -> None:
    if cfg.external_kafka:
        say(f"Kafka: external ({cfg.kafka_bootstrap})")
        return
    if running_pid(cfg, "kafka") and port_open(cfg.kafka_port):
        say(f"Kafka: already running on 127.0.0.1:{cfg.kafka_port}")
        return
    require_free(cfg.kafka_port, "Kafka", "PAHT_KAFKA_PORT")
    require_free(cfg.kafka_controller_port, "Kafka controller", "PAHT_KAFKA_CONTROLLER_PORT")
    run_broker(cfg, "kafka", cfg.kafka_port, cfg.kafka_controller_port, home(cfg), heap="512m")
    say(f"Kafka: Kafka Server started on 127.0.0.1:{cfg.kafka_port} (KRaft, {cfg.logs / 'kafka.log'})")


def run_broker(cfg: Config, name: str, port: int, controller_port: int, broker_home: Path, heap: str) -> None:
    """Format (once) and start one KRaft broker+controller; returns when it logged "Kafka Server started".

    Also the `broker` command: failure tests start a broker of their own to kill and restart.
    """
    libs = fetch_jars(cfg)
    data = broker_home / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = (TEMPLATES / "server.properties.in").read_text()
    for key, value in {
        "@PORT@": str(port),
        "@CONTROLLER_PORT@": str(controller_port),
        "@DATA_DIR@": str(data),
        "@PARTITIONS@": str(cfg.kafka_partitions),
    }.items():
        props = props.replace(key, value)
    properties = broker_home / "server.properties"
    properties.write_text(props)
    classpath = f"{libs}/*"  # the JVM expands the wildcard
    logging = [f"-Dlog4j2.configurationFile={TEMPLATES / 'log4j2.properties'}", f"-Dkafka.logs.dir={cfg.logs}"]
    if not (data / "meta.properties").exists():
        subprocess.run(
            [
                *("java", "-Xmx256m", "-XX:TieredStopAtLevel=1", *logging, "-cp", classpath),
                *("kafka.tools.StorageTool", "format", "-t", KAFKA_CLUSTER_ID, "-c", str(properties)),
                "--ignore-formatted",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log = cfg.logs / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    jvm = [f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
    spawn(cfg, name, ["java", *jvm, *logging, "-cp", classpath, "kafka.Kafka", str(properties)], {})

    def started() -> bool:
        with log.open("rb") as fh:
            fh.seek(offset)
            return b"Kafka Server started" in fh.read()

    wait_for(f"Kafka broker {name}", started, 120, log)
