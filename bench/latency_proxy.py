"""A TCP proxy that delays every byte by a fixed time in each direction: a slow network to Temporal.

    proxy = LatencyProxy("127.0.0.1:7233", delay=0.2)
    proxy.start()                # proxy.address -> give it to the API as HRFLOW_TEMPORAL_ADDRESS
    ...
    proxy.stop()

Bytes keep their order and nothing is dropped or merged differently from what a slow link does, so
gRPC (HTTP/2) runs over it unchanged; each answer simply arrives ``2 * delay`` later. The benchmarks
and the fault tests use it to make Temporal answer slowly without touching Temporal itself. It runs
its own event loop in a thread, so a caller that blocks (waiting for a process to start) does not
stall the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class LatencyProxy:
    def __init__(self, target: str, *, delay: float, host: str = "127.0.0.1") -> None:
        self.target_host, port = target.rsplit(":", 1)
        self.target_port = int(port)
        self.delay, self.host = delay, host
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        assert self._server is not None, "start() the proxy first"
        port = self._server.sockets[0].getsockname()[1]
        return f"{self.host}:{port}"

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-proxy", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, self.host, 0), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_w.close()
            return
        pipes = [asyncio.create_task(self._pipe(client_r, server_w)), asyncio.create_task(self._pipe(server_r, client_w))]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
                self._tasks.discard(pipe)
            for writer in (client_w, server_w):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read as it comes; deliver each chunk ``delay`` after it was read, in order."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, chunk))
            queue.put_nowait((0.0, b""))
            await sender
        finally:
            sender.cancel()
