"""The app on loopback in a process of its own, for the fuzz, the soak and the restart test.

``python -m benchmarks.server --port 7861`` serves the page as ``app.py`` does, but with the
bundled weights on the CPU and small defaults (nothing is timed at start-up). :class:`AppProcess`
starts it, waits until it answers, and can look at it from outside (its process id for
``/proc``), kill it with SIGKILL or stop it: what a crash or a restart does to it is then what
happens to a real deployment.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

#: The page's defaults in the server: one scale, few iterations (the fuzz and the soak send their own settings).
SMALL = {"size": 64, "min_size": 32, "scales": 1, "coarse_iterations": 4, "iterations": 8, "preview_every": 4}
#: How long the server may take to load the weights and start answering (seconds); only a broken one takes this.
START_GUARD = 180.0
ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the app on 127.0.0.1 at ``--port`` until killed."""
    parser = argparse.ArgumentParser(description="Serve the app on loopback with the bundled weights, small jobs.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue-size", type=int, default=16)
    args = parser.parse_args(argv)

    import app
    from styletransfer import StyleConfig
    from webapp.jobs import Studio
    from webapp.layout import build_demo

    studio = Studio.from_environment({"STYLETRANSFER_WEIGHTS": "bundled"}, device="cpu", defaults=StyleConfig(**SMALL))
    studio.warm_up()
    app.launch(build_demo(studio, queue_size=args.queue_size), server_name="127.0.0.1", server_port=args.port)
    return 0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppProcess:
    """``python -m benchmarks.server`` in a child process, with its own Gradio temporary folder under ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        queue_size: int = 16,
        environ: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        """``command`` serves the page on the port given to it with ``--port`` (default: this module's server)."""
        self.folder, self.queue_size = Path(folder), queue_size
        self.command = list(command or [sys.executable, "-m", "benchmarks.server", "--queue-size", str(queue_size)])
        self.temp_dir = self.folder / "gradio"
        self.examples_cache = self.folder / "examples"
        self.log = self.folder / "server.log"
        self.environ = dict(environ if environ is not None else os.environ)
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self) -> AppProcess:
        """Start the server and return once it answers (raises ``RuntimeError`` with its log if it does not)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {
            **self.environ,
            "GRADIO_TEMP_DIR": str(self.temp_dir),
            "GRADIO_EXAMPLES_CACHE": str(self.examples_cache),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONPATH": str(ROOT),
        }
        command = [*self.command, "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_GUARD
        while not self.answers():
            if not self.alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether the page is served."""
        try:
            with urllib.request.urlopen(self.url + "config", timeout=timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash or an out-of-memory kill."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not gone after a while."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
