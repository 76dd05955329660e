"""Benchmark: Micro pubsub between two nodes against NATS core and JetStream, on this machine.

A nats-server (Debian's `nats-server`, JetStream on, file storage) and two Micro nodes A and C
(`micro node start --profile local`, joined) run on 127.0.0.1; this one Python process drives both with
their Python clients (nats-py; the Micro SDK), 256-byte messages, one publisher and one subscriber:

- throughput: `--messages` published as fast as the client takes them (NATS: one connection publishing,
  another subscribed; Micro: the publisher's SDK on A, the subscriber's on C), timed from the first
  publish to the last message received (or `--timeout`); Micro counts what arrived (at most once: a
  subscriber queue that overflowed drops). Both publish one message at a time without waiting for an
  answer (nats-py `publish`, Micro `Pubsub.send`) and flush at the end. Target: Micro >= 0.5 x NATS
  core. Also reported, not judged: Micro's `publish`, which answers each message with the nodes it
  reached, `--in-flight` at a time (`throughput_answered`).
- durable publishes acknowledged per second, against JetStream R1 with file storage: `--durable`
  publishes, `--in-flight` awaiting their acks (Micro: `events.publish` on A, each acknowledged once it is
  fsynced in A's log and copied to C's, so Micro's durability is the stronger of the two). Target: Micro
  >= 1 x JetStream.
- end-to-end latency at a moderate rate (`--rate` messages/s for `--latency-seconds`), each message
  carrying its send time: p50/p99/max. Target: Micro p99 <= 5 ms.
- memory over a soak at that rate (`--soak-seconds`, 300 by default as in the issue): RSS of both Micro
  nodes at the start and the end.

Prints one JSON object; exits 0 whether or not the targets are met. Every process started here is
killed at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from micro.sdk.events import Events
from micro.sdk.pubsub import Pubsub
from processes import MicroMesh, NatsServer, percentiles, rss_mb

SIZE = 256
TOPIC = "bench.pubsub"
DURABLE_TOPIC = "bench.durable"
_STAMP = struct.Struct("<d")


def _payload(stamp: float = 0.0) -> bytes:
    return _STAMP.pack(stamp).ljust(SIZE, b"x")


class _Receiver:
    """Counts messages and notes each one's latency from the send time it carries."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.latencies: list[float] = []
        self.done = asyncio.Event()
        self.last_at = 0.0

    def received(self, data: bytes, timed: bool) -> None:
        now = time.perf_counter()
        self.count += 1
        self.last_at = now
        if timed:
            self.latencies.append(now - _STAMP.unpack_from(data)[0])
        if self.count >= self.expected:
            self.done.set()


async def _paced(publish: Callable[[bytes], Awaitable[Any]], rate: float, seconds: float) -> int:
    """Publish at `rate` per second for `seconds`, each payload stamped with its send time."""
    count = int(rate * seconds)
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish(_payload(time.perf_counter()))
    return count


async def _wait(receiver: _Receiver, timeout: float) -> None:
    try:
        await asyncio.wait_for(receiver.done.wait(), timeout)
    except TimeoutError:
        pass


def _rate(receiver: _Receiver, started: float) -> dict[str, Any]:
    elapsed = max(receiver.last_at - started, 1e-9)
    return {"received": receiver.count, "seconds": round(elapsed, 3), "messages_per_s": round(receiver.count / elapsed)}


async def _streamed(send: Callable[[bytes], Awaitable[Any]], flush: Callable[[], Awaitable[Any]],
                    receiver: _Receiver, args: argparse.Namespace) -> dict[str, Any]:
    """`--messages` published one at a time without waiting for answers, then flushed; the rate until
    `receiver` has them all (or `--timeout`)."""
    payload = _payload()
    started = time.perf_counter()
    for _ in range(args.messages):
        await send(payload)
    await flush()
    await _wait(receiver, args.timeout)
    return _rate(receiver, started)


# ---- NATS --------------------------------------------------------------------------------------------

async def _nats(url: str, args: argparse.Namespace) -> dict[str, Any]:
    pub, sub = await nats.connect(url), await nats.connect(url)
    try:
        receiver = _Receiver(args.messages)

        async def on_message(msg: Any) -> None:
            receiver.received(msg.data, timed=False)

        subscription = await sub.subscribe(TOPIC, cb=on_message, pending_msgs_limit=args.messages * 2)
        await sub.flush()
        throughput = await _streamed(lambda data: pub.publish(TOPIC, data), pub.flush, receiver, args)
        await subscription.unsubscribe()
        payload = _payload()

        timed = _Receiver(int(args.rate * args.latency_seconds))

        async def on_timed(msg: Any) -> None:
            timed.received(msg.data, timed=True)

        await sub.subscribe(TOPIC, cb=on_timed)
        await sub.flush()
        await _paced(lambda data: pub.publish(TOPIC, data), args.rate, args.latency_seconds)
        await _wait(timed, 5.0)

        js = pub.jetstream()
        await js.add_stream(name="BENCH", subjects=[DURABLE_TOPIC], storage="file", num_replicas=1)
        acked = 0
        durable_started = time.perf_counter()
        for _ in range(max(1, args.durable // args.in_flight)):
            await asyncio.gather(*(js.publish(DURABLE_TOPIC, payload) for _ in range(args.in_flight)))
            acked += args.in_flight
        durable_s = time.perf_counter() - durable_started
        return {
            "throughput": throughput,
            "latency": percentiles(timed.latencies),
            "durable": {"acked": acked, "seconds": round(durable_s, 3), "acked_per_s": round(acked / durable_s)},
        }
    finally:
        await pub.close()
        await sub.close()


# ---- Micro -------------------------------------------------------------------------------------------

async def _consume(bus: Pubsub, receiver: _Receiver, timed: bool, ready: asyncio.Event) -> None:
    async with bus.subscribe(TOPIC, queue_limit=1_000_000) as messages:
        ready.set()
        async for message in messages:
            receiver.received(message.data, timed)


async def _subscribed(bus: Pubsub, receiver: _Receiver, timed: bool) -> asyncio.Task[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(_consume(bus, receiver, timed, ready))
    await asyncio.wait_for(ready.wait(), 10)
    await asyncio.sleep(1.0)  # the subscription's owned record reaches A by gossip
    return task


async def _micro(mesh: MicroMesh, args: argparse.Namespace) -> dict[str, Any]:
    async with Pubsub(mesh.data_dirs[0]) as publisher, Pubsub(mesh.data_dirs[1]) as subscriber:
        receiver = _Receiver(args.messages)
        task = await _subscribed(subscriber, receiver, timed=False)
        throughput = await _streamed(lambda data: publisher.send(TOPIC, data), publisher.flush, receiver, args)
        task.cancel()
        payload = _payload()

        receiver = _Receiver(args.messages)
        task = await _subscribed(subscriber, receiver, timed=False)
        started = time.perf_counter()
        for _ in range(args.messages // args.in_flight):
            await asyncio.gather(*(publisher.publish(TOPIC, payload) for _ in range(args.in_flight)))
        await _wait(receiver, args.timeout)
        answered = _rate(receiver, started)
        task.cancel()

        timed = _Receiver(int(args.rate * args.latency_seconds))
        task = await _subscribed(subscriber, timed, timed=True)
        await _paced(lambda data: publisher.publish(TOPIC, data), args.rate, args.latency_seconds)
        await _wait(timed, 5.0)
        task.cancel()

        async with Events(mesh.data_dirs[0]) as events:
            durable_started = time.perf_counter()
            acked = 0
            for _ in range(max(1, args.durable // args.in_flight)):
                await asyncio.gather(*(events.publish(DURABLE_TOPIC, payload) for _ in range(args.in_flight)))
                acked += args.in_flight
            durable_s = time.perf_counter() - durable_started

        pids = {"A": mesh.procs[0].pid, "C": mesh.procs[1].pid}
        soak = _Receiver(int(args.rate * args.soak_seconds))
        task = await _subscribed(subscriber, soak, timed=True)
        rss_start = {name: rss_mb(pid) for name, pid in pids.items()}
        await _paced(lambda data: publisher.publish(TOPIC, data), args.rate, args.soak_seconds)
        await _wait(soak, 5.0)
        rss_end = {name: rss_mb(pid) for name, pid in pids.items()}
        task.cancel()
        return {
            "throughput": throughput,
            "throughput_answered": answered,
            "latency": percentiles(timed.latencies),
            "durable": {"acked": acked, "seconds": round(durable_s, 3), "acked_per_s": round(acked / durable_s),
                        "replicas": 1},
            "soak": {"seconds": args.soak_seconds, "rate": args.rate, "received": soak.count,
                     "published": soak.expected, "latency": percentiles(soak.latencies) if soak.latencies else None,
                     "rss_mb_start": rss_start, "rss_mb_end": rss_end},
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--durable", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--soak-seconds", type=float, default=300.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    with NatsServer() as server:
        nats_result = asyncio.run(_nats(server.url, args))
    with MicroMesh(2, profile="local") as mesh:
        micro_result = asyncio.run(_micro(mesh, args))
    ratio = micro_result["throughput"]["messages_per_s"] / max(1, nats_result["throughput"]["messages_per_s"])
    durable = micro_result["durable"]["acked_per_s"] / max(1, nats_result["durable"]["acked_per_s"])
    print(json.dumps({
        "benchmark": "pubsub_nats",
        "message_bytes": SIZE,
        "nats": nats_result,
        "micro": micro_result,
        "micro_over_nats_core": round(ratio, 3),
        "micro_durable_over_jetstream": round(durable, 3),
        "targets": {
            "throughput_at_least_half_of_nats_core": ratio >= 0.5,
            "durable_at_least_jetstream": durable >= 1.0,
            "latency_p99_within_5ms": micro_result["latency"]["p99_ms"] <= 5.0,
        },
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
