"""An asyncio echo client that is not `netpoll load`: N concurrent connections, each sending M
messages of random sizes and checking that every byte comes back, in order."""

import asyncio
import random
import time


class EchoResult:
    def __init__(self):
        self.messages = 0
        self.bytes = 0
        self.errors = []
        self.seconds = 0.0


class _Gate:
    """Opens when every client has connected (or failed to), so all N are open at once."""

    def __init__(self, clients):
        self.waiting = clients
        self.event = asyncio.Event()

    def arrived(self):
        self.waiting -= 1
        if self.waiting == 0:
            self.event.set()


async def _client(i, host, port, messages, max_size, seed, result, gate):
    rng = random.Random(seed * 1_000_003 + i)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        result.errors.append(f"client {i}: connect: {e}")
        gate.arrived()
        return
    gate.arrived()
    try:
        await gate.event.wait()
        for m in range(messages):
            size = rng.randint(1, max_size)
            payload = rng.randbytes(size)
            writer.write(payload)
            await writer.drain()
            echoed = await reader.readexactly(size)
            if echoed != payload:
                at = next(k for k in range(size) if echoed[k] != payload[k])
                result.errors.append(f"client {i} message {m}: {size} bytes, first difference "
                                     f"at byte {at}")
                return
            result.messages += 1
            result.bytes += size
    except (OSError, asyncio.IncompleteReadError) as e:
        result.errors.append(f"client {i}: {type(e).__name__}: {e}")
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def _run(host, port, clients, messages, max_size, seed, timeout):
    result = EchoResult()
    gate = _Gate(clients)
    start = time.monotonic()
    tasks = [asyncio.create_task(_client(i, host, port, messages, max_size, seed, result, gate))
             for i in range(clients)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    if pending:
        result.errors.append(f"{len(pending)} clients still running after {timeout} s")
    result.seconds = time.monotonic() - start
    return result


def run_echo(host, port, clients=64, messages=100, max_size=2048, seed=1, timeout=120):
    """Runs the clients; returns an EchoResult (errors empty on success)."""
    return asyncio.run(_run(host, port, clients, messages, max_size, seed, timeout))
