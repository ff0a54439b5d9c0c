"""`evroam serve --workers N`: N nodes of one platform on one machine, sharing the HTTP and OCPP
ports (SO_REUSEPORT: the kernel spreads new connections over the nodes).

The parent process migrates the database (and loads the demo data) once, starts the N node
processes, restarts one that dies (after a short pause, longer when it keeps dying), and stops
them all on SIGINT / SIGTERM. Each node is an ordinary `evroam serve` process with its own node
name (`<node_name>-w<i>`); they find each other through Redis, like nodes on separate machines.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from evroam.settings import Settings

log = logging.getLogger(__name__)

RESTART_PAUSE = 1.0  # seconds before a node that died is started again (doubling up to a minute)


def check(settings: Settings, workers: int) -> str | None:
    """Why `workers` nodes cannot run with these settings (None: they can)."""
    if workers < 1:
        return "--workers: at least 1"
    if workers > 1 and not settings.redis_url:
        return ("--workers N needs Redis: the nodes share chargers, commands and the work that runs once per "
                "platform through it (set EVROAM_REDIS_URL=redis://HOST:6379/0)")
    return None


def run(argv: list[str], settings: Settings, workers: int) -> int:
    """Start `workers` nodes running `evroam serve` with `argv` (the parent's own options, less
    --workers and --demo-data), supervise them until a signal, and return the exit code."""
    base = settings.node_name or _hostname()
    stopping = False
    procs: dict[int, subprocess.Popen] = {}
    pauses: dict[int, float] = {}

    def start(index: int) -> None:
        env = {**os.environ, "EVROAM_NODE_NAME": f"{base}-w{index}"}
        procs[index] = subprocess.Popen([sys.executable, "-m", "evroam", "serve", *argv, "--reuse-port"], env=env)
        log.info("node %s-w%d started (pid %d)", base, index, procs[index].pid)

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for index in range(workers):
        start(index)
    while not stopping:
        time.sleep(0.5)
        for index, proc in list(procs.items()):
            code = proc.poll()
            if code is None or stopping:
                continue
            pause = pauses.get(index, RESTART_PAUSE)
            log.warning("node %s-w%d ended (exit %s): starting it again in %.0fs", base, index, code, pause)
            time.sleep(pause)
            pauses[index] = min(60.0, pause * 2)
            if not stopping:
                start(index)
    deadline = time.monotonic() + 30
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0


def _hostname() -> str:
    import socket

    return socket.gethostname() or "node"


def reusable_socket(host: str, port: int):
    """A listening TCP socket other processes can bind to the same address too (SO_REUSEPORT)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock
