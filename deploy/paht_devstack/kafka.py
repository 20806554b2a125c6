"""Kafka: the broker's jars from Maven Central (deploy/kafka/pom.xml), one KRaft broker+controller per home:
one for development, or three as a local cluster (PAHT_KAFKA_BROKERS=3; replication 3, min.insync.replicas 2)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from paht_devstack.config import KAFKA_CLUSTER_ID, ROOT, Config, KafkaNode, say
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
    """Start the brokers that are not running (all of them at once: a KRaft quorum needs a majority to start)."""
    if cfg.external_kafka:
        say(f"Kafka: external ({cfg.kafka_bootstrap})")
        return
    nodes = cfg.kafka_nodes
    missing = [n for n in nodes if not (running_pid(cfg, n.name) and port_open(n.port))]
    if not missing:
        say(f"Kafka: already running on {cfg.kafka_bootstrap}")
        return
    for node in missing:
        require_free(node.port, f"Kafka {node.name}", "PAHT_KAFKA_PORT")
        require_free(node.controller_port, f"Kafka {node.name} controller", "PAHT_KAFKA_CONTROLLER_PORT")
    waits = [
        _launch(cfg, node, voters(nodes), node_home(cfg, node), "512m", cfg.kafka_replication, min_isr(nodes))
        for node in missing
    ]
    for wait in waits:
        wait()
    say(f"Kafka: Kafka Server started on {', '.join(f'127.0.0.1:{n.port}' for n in missing)} (KRaft, {cfg.logs})")


def voters(nodes: list[KafkaNode]) -> str:
    return ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)


def min_isr(nodes: list[KafkaNode]) -> int:
    """2 on a cluster: an acknowledged write is on two brokers, and one broker may die without stopping writes."""
    return 2 if len(nodes) >= 3 else 1


def node_home(cfg: Config, node: KafkaNode) -> Path:
    return home(cfg) if node.name == "kafka" else cfg.infra / "kafka-cluster" / node.name


def run_broker(cfg: Config, name: str, port: int, controller_port: int, broker_home: Path, heap: str) -> None:
    """The `broker` command: failure tests start a single broker of their own to kill and restart."""
    node = KafkaNode(name, 1, port, controller_port)
    _launch(cfg, node, f"1@127.0.0.1:{controller_port}", broker_home, heap, replication=1, min_isr=1)()


def server_properties(cfg: Config, node: KafkaNode, voters: str, data: Path, replication: int, min_isr: int) -> str:
    """deploy/kafka/server.properties.in filled in for one node."""
    props = (TEMPLATES / "server.properties.in").read_text()
    for key, value in {
        "@NODE_ID@": str(node.node_id),
        "@VOTERS@": voters,
        "@PORT@": str(node.port),
        "@CONTROLLER_PORT@": str(node.controller_port),
        "@DATA_DIR@": str(data),
        "@PARTITIONS@": str(cfg.kafka_partitions),
        "@REPLICATION@": str(replication),
        "@MIN_ISR@": str(min_isr),
    }.items():
        props = props.replace(key, value)
    return props


def _launch(
    cfg: Config, node: KafkaNode, voters: str, broker_home: Path, heap: str, replication: int, min_isr: int
) -> Callable[[], None]:
    """Format (once) and spawn one KRaft broker+controller; returns the wait for its "Kafka Server started"."""
    libs = fetch_jars(cfg)
    data = broker_home / "data"
    data.mkdir(parents=True, exist_ok=True)
    properties = broker_home / "server.properties"
    properties.write_text(server_properties(cfg, node, voters, data, replication, min_isr))
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
    log = cfg.logs / f"{node.name}.log"
    offset = log.stat().st_size if log.exists() else 0
    jvm = [f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
    spawn(cfg, node.name, ["java", *jvm, *logging, "-cp", classpath, "kafka.Kafka", str(properties)], {})

    def started() -> bool:
        with log.open("rb") as fh:
            fh.seek(offset)
            return b"Kafka Server started" in fh.read()

    return lambda: wait_for(f"Kafka broker {node.name}", started, 120, log)
