"""The load generator: a process of its own that offers MESSAGE_CREATE at a real, paced rate.

One process cannot both be the sandbox (building, checking and sending every event) and offer
1,000-8,000 messages a second on a small machine, so the ingest benchmark puts this process between
holdspace and the sandbox's gateway: holdspace connects here (``HOLDSPACE_BENCH_GATEWAY``), every
frame is relayed both ways unchanged except for the sequence numbers, which this process owns so
that it can add frames of its own. On ``POST /offer`` it sends MESSAGE_CREATE frames at the asked
rate: each one the sandbox's own frame of a real message in that room (as holdspace received it,
without content), with a new snowflake of the moment it is sent. It answers with the time each frame
left (after the WebSocket send; ``time.monotonic()``, the system-wide clock the benchmark compares
with), so the benchmark measures "left for holdspace -> row committed" at the rate actually offered.

Run by ``benchmarks.bench_ingest`` as ``python -m benchmarks.loadgen UPSTREAM_URL``; it prints
``listening PORT`` when ready and stops when its standard input closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from bot.sandbox import wire

DISCORD_EPOCH_MS = 1420070400000
#: Bit 21 of the low 22 bits marks this process's snowflakes, so they never equal the sandbox's
#: (whose counter stays far below 2**21 in a benchmark).
OWN_BIT = 1 << 21
PLACEHOLDERS = {"id": "\x00ID\x00", "seq": "\x00SEQ\x00", "ts": "\x00TS\x00"}


class Relay:
    """One holdspace connection relayed to the sandbox, with this process's sequence numbers."""

    def __init__(self, down: web.WebSocketResponse, public_url: str) -> None:
        self.down = down
        self.public_url = public_url
        self.seq = 0
        self.up_to_down: list[tuple[int, int]] = []  # (upstream seq, downstream seq) of relayed frames
        self.send_lock = asyncio.Lock()

    def down_seq_for(self, upstream: int) -> int:
        self.seq += 1
        self.up_to_down.append((upstream, self.seq))
        return self.seq

    def upstream_seq(self, downstream: int) -> int:
        """The sandbox's sequence number of the last relayed frame holdspace saw (for RESUME)."""
        best = 0
        for up, down in self.up_to_down:
            if down <= downstream:
                best = up
        return best

    def rewrite(self, data: str) -> str:
        """A dispatch from the sandbox with this connection's sequence number (READY also names this
        process as the URL to resume at)."""
        fields = wire.dispatch_fields(data)
        if fields is None:
            return data
        name, upstream, start, stop = fields
        if name == "READY":
            frame = wire.loads(data)
            frame["d"]["resume_gateway_url"] = self.public_url
            frame["s"] = self.down_seq_for(upstream)
            return wire.dumps(frame)
        return data[:start] + str(self.down_seq_for(upstream)) + data[stop:]

    async def send(self, data: str) -> None:
        async with self.send_lock:
            await self.down.send_str(data)


class LoadGenerator:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.relays: list[Relay] = []
        self.port = 0
        self.public_url = ""

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        down = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await down.prepare(request)
        relay = Relay(down, self.public_url)
        self.relays.append(relay)
        query = request.query_string
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(self.upstream + (f"?{query}" if query else ""), max_msg_size=0) as up,
        ):

            async def from_sandbox() -> None:
                async for msg in up:
                    if msg.type == WSMsgType.TEXT:
                        await relay.send(relay.rewrite(msg.data))
                    elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                        break
                await down.close(code=up.close_code or 1000)

            pump = asyncio.create_task(from_sandbox())
            try:
                async for msg in down:
                    if msg.type != WSMsgType.TEXT:
                        continue
                    data = msg.data
                    if data.startswith('{"op": 6') or '"op": 6,' in data or '"op":6' in data:
                        frame = json.loads(data)
                        if frame.get("op") == 6:
                            frame["d"]["seq"] = relay.upstream_seq(int(frame["d"].get("seq") or 0))
                            data = json.dumps(frame)
                    await up.send_str(data)
            finally:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
                self.relays.remove(relay)
        return down

    async def offer(self, request: web.Request) -> web.Response:
        """Body: {"rate": msgs/s, "seconds": s, "templates": [MESSAGE_CREATE data, ...]} (rooms taken in
        turn). Answer: {"sent": [[message id, monotonic time it left], ...], "elapsed": s}."""
        body = await request.json()
        rate, seconds = float(body["rate"]), float(body["seconds"])
        formats = [_format_of(d) for d in body["templates"]]
        live = [r for r in self.relays if not r.down.closed]
        if not live:
            return web.json_response({"error": "holdspace is not connected"}, status=409)
        relay = live[-1]
        total = int(rate * seconds)
        sent: list[list[float]] = []
        counter = 0
        start = time.monotonic()
        while len(sent) < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            while len(sent) < due:
                now_ms = int(time.time() * 1000)
                counter += 1
                message_id = ((now_ms - DISCORD_EPOCH_MS) << 22) | OWN_BIT | (counter & (OWN_BIT - 1))
                stamp = (
                    time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000)) + f".{now_ms % 1000:03d}000+00:00"
                )
                async with relay.send_lock:
                    relay.seq += 1
                    text = formats[len(sent) % len(formats)].format(id=message_id, seq=relay.seq, ts=stamp)
                    await relay.down.send_str(text)
                sent.append([message_id, time.monotonic()])
            # Paced: sleep until the next frame is due (asyncio wakes within about a millisecond).
            await asyncio.sleep(max(0.0, start + len(sent) / rate - time.monotonic()))
        return web.json_response({"sent": sent, "elapsed": time.monotonic() - start})


def _format_of(data: dict[str, Any]) -> str:
    """A ``str.format`` template of the whole MESSAGE_CREATE frame with ``{id}``, ``{seq}``, ``{ts}``."""
    d = dict(data)
    d["id"] = PLACEHOLDERS["id"]
    d["timestamp"] = PLACEHOLDERS["ts"]
    text = wire.dumps(wire.dispatch("MESSAGE_CREATE", PLACEHOLDERS["seq"], d))  # type: ignore[arg-type]
    text = text.replace("{", "{{").replace("}", "}}")
    return (
        text.replace(wire.dumps(PLACEHOLDERS["id"]), '"{id}"')
        .replace(wire.dumps(PLACEHOLDERS["ts"]), '"{ts}"')
        .replace(wire.dumps(PLACEHOLDERS["seq"]), "{seq}")
    )


async def main(upstream: str) -> None:
    generator = LoadGenerator(upstream)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/gateway", generator.gateway)
    app.router.add_post("/offer", generator.offer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    generator.port = runner.addresses[0][1]
    generator.public_url = f"ws://127.0.0.1:{generator.port}/gateway"
    print(f"listening {generator.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our standard input
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
