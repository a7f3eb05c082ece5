"""What `farm status` reads: the farm's addresses and processes, kept in the run directory."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from farm.errors import FarmError
from nodes.admission import AdmissionLimits

STATE_FILE = "state.json"


@dataclass
class FarmState:
    proxy_port: int
    admin_token: str
    source_port: int
    cache_kind: str
    cache_url: str | None
    """The nodes' cache URL; may hold a password, so the file is readable by its owner only."""
    redis_port: int | None = None
    """The farm's own redis-server, if it runs one."""
    postgres_port: int | None = None
    """The farm's own PostgreSQL, if it runs one (``--cache sql``)."""
    postgres_dir: str | None = None
    """That PostgreSQL's folder (outside the run directory: the server's own user must reach it)."""
    cache_persistence: bool = True
    """The farm's own cache server keeps its data when it stops and starts again."""
    write_policy: str = "strict"
    """What the nodes do with a write while they cannot reach the cache (``farm.config.WRITE_POLICIES``)."""
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    """Each node's admission limits (``farm up --max-in-flight``, ``--max-queue``, ``--queue-timeout-ms``)."""
    nodes: dict[str, int] = field(default_factory=dict)
    next_node: int = 1
    item_sliding: float = 300.0
    item_absolute: float | None = None
    source_latency_ms: float = 20.0
    fault_links: bool = False
    """Each node reaches its cache and the source store through links of the fault proxy (``farm up --faults``)."""
    faults_port: int | None = None
    """The fault proxy's control API, on 127.0.0.1."""
    faults_token: str | None = None
    link_ports: dict[str, int] = field(default_factory=dict)
    """Each link's listening port, by link name (``node-1/cache``, ``node-1/source``)."""
    engine: str = "processes"
    """What runs the farm: ``processes`` under supervisord, or ``compose`` containers (``farm up --engine``)."""
    compose_project: str | None = None
    """The compose project of a farm on containers; its containers carry it as a label."""
    cache_container: str | None = None
    """The compose service of the farm's cache server on containers (``redis`` or ``postgres``)."""

    @property
    def has_cache_server(self) -> bool:
        """The farm runs its own cache server (redis or PostgreSQL), which the cache actions reach."""
        return self.redis_port is not None or self.postgres_port is not None or self.cache_container is not None

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def source_url(self) -> str:
        return f"http://127.0.0.1:{self.source_port}"

    def node_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.nodes[name]}"

    def save(self, run: Path) -> None:
        path = run / STATE_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=2)
        tmp.replace(path)

    @classmethod
    def load(cls, run: Path) -> FarmState:
        path = run / STATE_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise FarmError(f"no farm in {run}: start one with `farm up --run-dir {run}`") from None
        except json.JSONDecodeError as exc:
            raise FarmError(f"{path} is damaged ({exc}); `farm down --run-dir {run}` clears it") from None
        if isinstance(data.get("admission"), dict):
            data["admission"] = AdmissionLimits(**data["admission"])
        return cls(**data)
