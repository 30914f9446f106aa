"""Stalled connections against a real `chatops serve`: how long they are held, what they
cost the bot's memory, and whether a real webhook gets through meanwhile.

`--connections` clients each declare a 1 MiB body on `/slack/events` or
`/webhooks/pagerduty` (alternately), send it until the bot stops reading (at most
`--send` bytes), then stall; `--trickle` more send their headers a line every 0.5 s,
never finishing. Meanwhile a real Alertmanager webhook is tried every 0.25 s. Memory is
the bot process's VmRSS, sampled every 0.1 s. Everything is on loopback and stops by
itself: no connection is kept past `--give-up` seconds.

    .venv/bin/python benchmarks/slow_connections.py --connections 1000 --trickle 100
    .venv/bin/python benchmarks/slow_connections.py --source /tmp/main-src   # another tree
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from intake import TOKEN, payload
from paced_process import paced_bot

MIB = 1024 * 1024
PIECE = 64 * 1024


@dataclass
class Tally:
    statuses: dict[str, int] = field(default_factory=dict)
    held: list[float] = field(default_factory=list)
    unclosed: int = 0

    def add(self, status: str, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.held.append(seconds)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def stalled_body(
    host: str, port: int, path: str, send: int, give_up: float, tally: Tally
) -> None:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        tally.add("connect failed", 0.0)
        return
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MIB}\r\n\r\n".encode()
    )
    try:
        async with asyncio.timeout(give_up):
            sent = 0
            with contextlib.suppress(TimeoutError, ConnectionError):
                while sent < send and not reader.at_eof():
                    writer.write(b" " * PIECE)
                    sent += PIECE
                    # The bot stopped reading (its buffers are full): stall from here on.
                    await asyncio.wait_for(writer.drain(), 0.5)
            answer = await reader.read()
        tally.add(
            answer.split(b" ", 2)[1].decode() if answer else "closed", time.monotonic() - started
        )
    except TimeoutError:
        tally.unclosed += 1
    except ConnectionError:
        tally.add("reset", time.monotonic() - started)
    finally:
        writer.transport.abort()


async def trickled(host: str, port: int, give_up: float, tally: Tally) -> None:
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        tally.add("connect failed", 0.0)
        return
    try:
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
        answer = b""
        async with asyncio.timeout(give_up):
            n = 0
            while not reader.at_eof():
                with contextlib.suppress(ConnectionError):
                    writer.write(f"X-Slow-{n}: x\r\n".encode())
                n += 1
                with contextlib.suppress(TimeoutError):
                    answer += await asyncio.wait_for(reader.read(1024), 0.5)
        status = answer.split(b" ", 2)[1].decode() if answer else "closed"
        tally.add(status, time.monotonic() - started)
    except TimeoutError:
        tally.unclosed += 1
    except ConnectionError:
        tally.add("reset", time.monotonic() - started)
    finally:
        writer.transport.abort()


async def probe(
    url: str, stop: asyncio.Event, started: float, results: list[tuple[float, int]]
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                async with http.post(
                    f"{url}/webhooks/alertmanager", json=payload(f"Probe{n}"), headers=TOKEN
                ) as response:
                    results.append((time.monotonic() - started, response.status))
            except (aiohttp.ClientError, TimeoutError):
                results.append((time.monotonic() - started, 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)


async def sample(pid: int, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


def summary(name: str, tally: Tally) -> str:
    held = sorted(tally.held)
    longest = f"{held[-1]:.1f}" if held else "-"
    p50 = f"{held[len(held) // 2]:.1f}" if held else "-"
    return f"{name}: answers {dict(sorted(tally.statuses.items()))}; held p50 {p50}s, max {longest}s; still open at give-up: {tally.unclosed}"


async def main(args: argparse.Namespace) -> None:
    if args.source:
        os.environ["PYTHONPATH"] = args.source
    with tempfile.TemporaryDirectory() as tmp:
        async with paced_bot("sqlite", Path(tmp), channels=1) as bot:
            host, port_text = bot.url.removeprefix("http://").split(":")
            port = int(port_text)
            pid = bot.process.pid
            baseline = rss_mib(pid)
            stop = asyncio.Event()
            peak = [baseline]
            probes: list[tuple[float, int]] = []
            started = time.monotonic()
            sampler = asyncio.create_task(sample(pid, stop, peak))
            bodies, trickles = Tally(), Tally()
            opening = asyncio.Semaphore(50)  # not all SYNs at once: the listen backlog is 128

            async def gated(make):  # type: ignore[no-untyped-def]
                async with opening:
                    task = asyncio.create_task(make())
                    await asyncio.sleep(0)
                await task

            paths = ["/slack/events", "/webhooks/pagerduty"]
            clients = [
                gated(
                    lambda i=i: stalled_body(
                        host, port, paths[i % 2], args.send, args.give_up, bodies
                    )
                )
                for i in range(args.connections)
            ] + [
                gated(lambda: trickled(host, port, args.give_up, trickles))
                for _ in range(args.trickle)
            ]
            prober = asyncio.create_task(probe(bot.url, stop, started, probes))
            await asyncio.gather(*clients)
            elapsed = time.monotonic() - started
            stop.set()
            await asyncio.gather(sampler, prober)
            after = rss_mib(pid)
            ok = [t for t, status in probes if status == 200]
            print(
                f"bot pid {pid}; {os.cpu_count()} cores; {args.connections} stalled bodies "
                f"(up to {args.send // 1024} KiB sent each), {args.trickle} trickled headers"
            )
            print(summary("stalled bodies", bodies))
            print(summary("trickled headers", trickles))
            print(f"all clients done after {elapsed:.1f}s")
            print(
                f"bot RSS: {baseline:.0f} MiB before, {peak[0]:.0f} MiB peak (+{peak[0] - baseline:.0f}), {after:.0f} MiB after"
            )
            print(
                f"Alertmanager probes: {len(ok)} of {len(probes)} answered 200; first at "
                f"{ok[0]:.2f}s"
                if ok
                else f"Alertmanager probes: none of {len(probes)} answered 200"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--trickle", type=int, default=100)
    parser.add_argument(
        "--send", type=int, default=MIB - PIECE, help="bytes of body each sends at most"
    )
    parser.add_argument(
        "--give-up", type=float, default=40.0, help="seconds before a client stops waiting"
    )
    parser.add_argument("--source", help="run the bot from this source tree (PYTHONPATH)")
    asyncio.run(main(parser.parse_args()))
