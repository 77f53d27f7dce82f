"""The real CNCF distribution registry (Debian's ``docker-registry``) for tests, and images pushed to it by
a real client (``skopeo``) from an OCI layout written here.

``start_registry(root)`` writes a config with only ``http.addr`` (127.0.0.1 and a free port) and
``storage.filesystem``, starts ``docker-registry serve`` in a session of its own and waits until
``GET /v2/`` answers. ``push_image(registry_url, layout, "cdis/fence:2021.09")`` copies the layout's one
image there with skopeo. ``RegistryServer.stop()`` kills it by its pid.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MISSING_REASON = "the CNCF distribution registry and skopeo are not installed (apt-get install docker-registry skopeo)"


def binaries_missing() -> bool:
    return shutil.which("docker-registry") is None or shutil.which("skopeo") is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RegistryServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_registry(root: Path) -> RegistryServer:
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n",
        encoding="utf-8",
    )
    log = root / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = RegistryServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/v2/", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.05)  # polling for start-up, not a fixed wait
    server.stop()
    raise RuntimeError("docker-registry did not answer within 30s")


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_oci_layout(layout: Path, tag: str = "latest") -> Path:
    """An OCI image layout with one tiny image: one gzipped layer, a config, a manifest, ``index.json``."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}', encoding="utf-8")
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        content = b"a Gen3 service\n"
        info = tarfile.TarInfo("service.txt")
        info.size, info.mtime = len(content), 0
        tar.addfile(info, io.BytesIO(content))
    raw = tar_bytes.getvalue()
    layer = _blob(layout, gzip.compress(raw, mtime=0))
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    config_desc = _blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    manifest_desc = _blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_desc,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index), encoding="utf-8")
    return layout


def push_image(registry_url: str, layout: Path, target: str, tag: str = "latest") -> None:
    """``skopeo copy oci:LAYOUT:TAG docker://HOST:PORT/TARGET`` (TARGET like ``cdis/fence:2021.09``)."""
    host = registry_url.removeprefix("http://")
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{host}/{target}"],
        check=True,
        capture_output=True,
        timeout=60,
        env={**os.environ, "HOME": str(layout.parent)},
    )
