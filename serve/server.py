"""Running an app with uvicorn: in the foreground (the CLI) or on a thread (tests, benchmarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def _config(app: Any, host: str, port: int, access_log: bool) -> uvicorn.Config:
    # log_config=None: uvicorn's loggers propagate to the root logger the CLI configured
    return uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=access_log, lifespan="on"
    )


def run(app: Any, host: str, port: int, access_log: bool = False) -> None:
    """Serve until Ctrl-C / SIGTERM (uvicorn handles both and shuts the app down cleanly)."""
    uvicorn.Server(_config(app, host, port, access_log)).run()


@contextmanager
def serving(app: Any, host: str, port: int, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` on a daemon thread; yield its base URL once it accepts connections."""
    server = uvicorn.Server(_config(app, host, port, access_log=False))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
