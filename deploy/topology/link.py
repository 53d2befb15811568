#!/usr/bin/env python3
"""An inter-region link for the local two-region topology: TCP forwarders that add a
one-way delay and can cut the link (this kernel has no netem). Standard library only.

  link.py CONTROL LISTEN_PORT:TARGET_PORT [LISTEN_PORT:TARGET_PORT ...]

Every forwarder (127.0.0.1:LISTEN_PORT -> 127.0.0.1:TARGET_PORT) reads CONTROL every
100 ms: a number is the one-way delay in milliseconds (each direction, so a round trip
costs twice it), `cut` closes every connection and refuses new ones until the file says a
number again. Bytes keep their order; a delayed chunk waits its time in a queue, so the
throughput is not limited by the delay (like a long fat pipe, not a stop-and-wait).
"""
import asyncio
import sys
import time

state = {"delay": 0.0, "cut": False}
open_conns = set()


def read_control(path):
    try:
        text = open(path).read().strip()
    except OSError:
        return
    if text == "cut":
        state["cut"] = True
    else:
        try:
            state["delay"] = max(0.0, float(text or "0")) / 1000.0
            state["cut"] = False
        except ValueError:
            pass


async def control_loop(path):
    while True:
        was_cut = state["cut"]
        read_control(path)
        if state["cut"] and not was_cut:
            for w in list(open_conns):
                w.transport.abort()
        await asyncio.sleep(0.1)


async def pipe(reader, writer):
    queue = asyncio.Queue()

    async def receive():
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic() + state["delay"], data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((0, b""))

    async def send():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            writer.transport.abort()

    await asyncio.gather(receive(), send())


def forwarder(target):
    async def handle(client_r, client_w):
        if state["cut"]:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.transport.abort()
            return
        open_conns.update((client_w, server_w))
        try:
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        finally:
            open_conns.discard(client_w)
            open_conns.discard(server_w)
            for w in (client_w, server_w):
                w.transport.abort()

    return handle


async def main(control, pairs):
    read_control(control)
    servers = []
    for pair in pairs:
        listen, target = (int(p) for p in pair.split(":"))
        servers.append(await asyncio.start_server(forwarder(target), "127.0.0.1", listen))
    await control_loop(control)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
