"""A real Label Studio for tests, started and stopped through scripts/labelstudio (no pytest in here)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "labelstudio"


class LabelStudioStartError(RuntimeError):
    """The server did not come up; the message carries the script's output and the server log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LabelStudioServer:
    """One server on one data dir; its state files (env, credentials, log, pid) sit in the data dir's parent."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    start_seconds: list[float] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.data_dir.parent

    @property
    def url(self) -> str:
        return self._env()["LABEL_STUDIO_URL"]

    @property
    def api_key(self) -> str:
        return self._env()["LABEL_STUDIO_API_KEY"]

    @property
    def webhook_secret(self) -> str:
        return self._env()["LABEL_STUDIO_WEBHOOK_SECRET"]

    def start(self, timeout: float = 300) -> None:
        began = time.monotonic()
        result = self.run("start", "--port", str(self.port), timeout=timeout)
        if result.returncode != 0:
            raise LabelStudioStartError(
                f"scripts/labelstudio start exited {result.returncode}\n{result.stderr[-3000:]}\n"
                f"--- server log tail ---\n{self.log_tail()}"
            )
        self.start_seconds.append(time.monotonic() - began)

    def stop(self) -> None:
        result = self.run("stop", timeout=120)
        if result.returncode != 0:
            raise RuntimeError(
                f"scripts/labelstudio stop exited {result.returncode}: {result.stderr[-2000:]}"
            )

    def run(self, command: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        # The developer's own Label Studio settings must not leak into the test server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
        return subprocess.run(
            [str(SCRIPT), command, *args, "--data-dir", str(self.data_dir)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def log_tail(self, lines: int = 60) -> str:
        log = self.state_dir / "server.log"
        if not log.exists():
            return "(no server log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _env(self) -> dict[str, str]:
        path = self.state_dir / "env"
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return dict(pairs)
