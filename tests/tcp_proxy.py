"""A TCP proxy on 127.0.0.1 that a test owns and breaks on purpose, between a client and a server.

Modes, switched at any time with :meth:`TcpProxy.set_mode`:

- ``pass``: bytes flow both ways;
- ``refuse``: every open connection is reset and new ones are reset at once (the server is down);
- ``blackhole``: connections are accepted and whatever they send is read and thrown away; nothing
  is forwarded or answered (a route that silently drops packets). Connections that lost bytes this
  way are closed when the proxy passes again: their stream is broken;
- ``stall``: nothing is read on either side, existing connections and new ones just hang (a peer
  that stopped answering); when the proxy passes again, what was held flows on.

:meth:`TcpProxy.reset` resets every open connection once (a server restart), and keeps the mode.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from typing import Literal

from sqlalchemy.engine import make_url

Mode = Literal["pass", "refuse", "blackhole", "stall"]


class _Pair:
    """One client connection and, once the proxy passes, its upstream connection."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.broken = False  # bytes were thrown away: never forward again
        self.closed = threading.Event()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; see the module docstring for the modes."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        self.reset()

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at the proxy instead of the server."""
        url = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    def set_mode(self, mode: Mode) -> None:
        """Switch mode (see the module docstring)."""
        with self._lock:
            previous, self.mode = self.mode, mode
            pairs = list(self._pairs)
        if mode == "refuse":
            self.reset()
        elif mode == "blackhole":
            for pair in pairs:
                pair.broken = True
        elif mode == "pass" and previous in {"blackhole", "stall"}:
            for pair in pairs:  # never connected upstream, or lost bytes: unusable
                if pair.broken or pair.upstream is None:
                    self._close(pair, abort=True)

    def reset(self) -> None:
        """Reset (RST) every open connection."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._close(pair, abort=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            pair = _Pair(client)
            if self.mode == "refuse":
                self._close(pair, abort=True)
                continue
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._serve, args=(pair,), daemon=True).start()

    def _serve(self, pair: _Pair) -> None:
        # Connect upstream only once the proxy passes: a stalled or black-holed new connection
        # must hang exactly like one whose server does not answer.
        while pair.upstream is None and not pair.closed.is_set():
            if self.mode == "blackhole":
                self._read_and_discard(pair)
            elif self.mode == "pass":
                try:
                    pair.upstream = socket.create_connection(self.target, timeout=3)
                except OSError:
                    self._close(pair, abort=True)
                    return
            else:
                time.sleep(0.02)
        if pair.upstream is None:
            return
        back = threading.Thread(target=self._pump, args=(pair, pair.upstream, pair.client))
        back.daemon = True
        back.start()
        self._pump(pair, pair.client, pair.upstream)

    def _read_and_discard(self, pair: _Pair) -> None:
        pair.broken = True
        with contextlib.suppress(OSError, ValueError):
            ready, _, _ = select.select([pair.client], [], [], 0.05)
            if ready and not pair.client.recv(65536):
                self._close(pair, abort=False)

    def _pump(self, pair: _Pair, source: socket.socket, target: socket.socket) -> None:
        while not pair.closed.is_set():
            if self.mode == "stall":
                time.sleep(0.02)
                continue
            try:
                ready, _, _ = select.select([source], [], [], 0.05)
                if not ready:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                if self.mode == "blackhole" or pair.broken:
                    pair.broken = True
                    continue
                target.sendall(data)
            except (OSError, ValueError):
                break
        self._close(pair, abort=False)

    def _close(self, pair: _Pair, *, abort: bool) -> None:
        pair.closed.set()
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for sock in (pair.client, pair.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                if abort:  # linger 0: the peer gets a reset, not an orderly end of stream
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
