"""The bridge between the request (event loop) and minio's upload thread: bounded, ordered, abortable."""

from __future__ import annotations

import asyncio
import threading

import pytest

from media.storage import Pipe, UploadAborted


def drain(pipe: Pipe, size: int, into: list[bytes]) -> None:
    """What minio does in its thread: read until end of file."""
    while chunk := pipe.read(size):
        into.append(chunk)


async def test_bytes_arrive_in_order_whatever_the_read_size() -> None:
    """Chunks written on the loop come out intact in the thread, then end of file after close()."""
    pipe = Pipe(capacity=16, loop=asyncio.get_running_loop())
    received: list[bytes] = []
    reader = asyncio.create_task(asyncio.to_thread(drain, pipe, 7, received))
    sent = [bytes([i]) * (i + 1) for i in range(20)]
    for chunk in sent:
        assert await pipe.write(chunk)
    pipe.close()
    await reader
    assert b"".join(received) == b"".join(sent)
    assert all(len(chunk) <= 7 for chunk in received)


async def test_a_full_pipe_makes_the_writer_wait_for_the_reader() -> None:
    """Past its capacity a write waits (without blocking the loop) until the thread reads."""
    pipe = Pipe(capacity=10, loop=asyncio.get_running_loop())
    assert await pipe.write(b"0123456789")
    blocked = asyncio.create_task(pipe.write(b"abc"))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    assert await asyncio.to_thread(pipe.read, 4) == b"0123"
    assert await asyncio.wait_for(blocked, timeout=2)


async def test_abort_fails_the_reader_waiting_in_its_thread() -> None:
    """A reader blocked on an empty pipe is woken by abort() and raises, so minio abandons the upload."""
    pipe = Pipe(capacity=10, loop=asyncio.get_running_loop())
    started = threading.Event()

    def read() -> bytes:
        started.set()
        return pipe.read(5)

    reader = asyncio.create_task(asyncio.to_thread(read))
    await asyncio.to_thread(started.wait)
    pipe.abort()
    with pytest.raises(UploadAborted):
        await asyncio.wait_for(reader, timeout=2)


async def test_a_stopped_reader_releases_a_waiting_writer() -> None:
    """When the thread ends (S3 failed), a writer waiting for space gets False instead of waiting forever."""
    pipe = Pipe(capacity=4, loop=asyncio.get_running_loop())
    assert await pipe.write(b"full")
    blocked = asyncio.create_task(pipe.write(b"more"))
    await asyncio.sleep(0.05)
    await asyncio.to_thread(pipe.reader_stopped)
    assert await asyncio.wait_for(blocked, timeout=2) is False
