"""Hostile and idle HTTP clients for bench/hostile.sh.

slow PORT SECONDS COUNT: COUNT connections from 127.0.0.2-51 that trickle a
request head one byte every 5 s (reconnecting whenever the gateway closes
one, so COUNT stay open) for SECONDS; prints how many were open, each second.

probe PORT SECONDS: /healthz and a 1 KB JSON delivery asked from 127.0.0.1
once a second (a process of its own, so the slow clients' work does not
delay it); prints successes and latencies.

idle PORT COUNT: COUNT kept-alive connections from 127.0.0.2-11, each after
one GET /healthz, held (and reopened if closed) until stdin closes.
"""
import asyncio
import json
import socket
import statistics
import sys
import time

DELIVERY = json.dumps({"sender": "bench@localhost", "recipients": ["rcpt@sink.test"], "host": "sink.test",
                       "message": "Subject: probe\n\n" + "x" * 1000 + "\n"}).encode()


async def slow_connection(port, source, stop, open_count):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(1)
            continue
        open_count[0] += 1
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await writer.drain()
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(65536), 5)
                    if not data:
                        break
                except asyncio.TimeoutError:
                    writer.write(b"a")
                    await writer.drain()
        except OSError:
            pass
        finally:
            open_count[0] -= 1
            writer.close()


async def timed_request(port, request):
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    return int(head.split()[1]), (time.monotonic() - started) * 1000


async def slow(port, seconds, count):
    stop = asyncio.Event()
    open_count = [0]
    tasks = [asyncio.create_task(slow_connection(port, f"127.0.0.{2 + i % 50}", stop, open_count))
             for i in range(count)]
    await asyncio.sleep(3)
    held = []
    for _ in range(seconds):
        held.append(open_count[0])
        await asyncio.sleep(1)
    stop.set()
    for task in tasks:
        task.cancel()
    print(f"SLOW_OPEN_MIN {min(held)}")
    print(f"SLOW_OPEN_MEDIAN {int(statistics.median(held))}")


async def probe(port, seconds):
    health, delivery = [], []
    for _ in range(seconds):
        tick = time.monotonic()
        for kind, request in (("health", b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                              ("delivery", b"POST /v1/deliveries HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(DELIVERY)
                               + DELIVERY)):
            try:
                status, ms = await timed_request(port, request)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                status, ms = 0, 10_000
            (health if kind == "health" else delivery).append((status, ms))
        await asyncio.sleep(max(0, 1 - (time.monotonic() - tick)))
    for name, results in (("HEALTH", health), ("DELIVERY", delivery)):
        times = sorted(ms for _, ms in results)
        ok = sum(1 for status, _ in results if status == 200)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name}_OK {ok}/{len(results)}")
        print(f"{name}_P50_MS {statistics.median(times):.2f}")
        print(f"{name}_P99_MS {p99:.2f}")
        print(f"{name}_MAX_MS {times[-1]:.2f}")


def idle(port, count):
    sockets = []

    def open_one(i):
        s = socket.create_connection(("127.0.0.1", port), source_address=(f"127.0.0.{2 + i % 10}", 0))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b'"ok"' not in data:
            data += s.recv(65536)
        return s

    for i in range(count):
        sockets.append(open_one(i))
    print(f"IDLE_OPEN {len(sockets)}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "slow":
        asyncio.run(slow(port, int(sys.argv[3]), int(sys.argv[4])))
    elif mode == "probe":
        asyncio.run(probe(port, int(sys.argv[3])))
    else:
        idle(port, int(sys.argv[3]))
