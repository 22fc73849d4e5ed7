"""Collection archives: gzip-compressed BSON (the same byte format as mongodump's .bson, compressed),
written and read as streams. Synchronous: run in a worker thread.

The export never holds a collection in memory: documents are read from a cursor in `_id` order,
compressed as they go and uploaded in parts. Two checksums are kept: of the archive file, and of
the documents' BSON bytes in `_id` order (what a restore verifies the restored data against).
The database side (cursors, inserts) is in `store.py`.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol, cast

from bson.raw_bson import RawBSONDocument
from minio import Minio

PART_SIZE = 8 * 1024 * 1024
INSERT_BATCH = 500


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class CompressedExport:
    """A read-only file of the collection's documents, gzip-compressed, produced on demand."""

    def __init__(self, documents: Iterator[RawBSONDocument]) -> None:
        self.documents = documents
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
        self.buffer = bytearray()
        self.finished = False
        self.count = 0
        self.content_sha256 = hashlib.sha256()
        self.archive_sha256 = hashlib.sha256()
        self.archive_bytes = 0

    def read(self, size: int = -1) -> bytes:
        while not self.finished and (size < 0 or len(self.buffer) < size):
            document = next(self.documents, None)
            if document is None:
                self.buffer += self.compressor.flush()
                self.finished = True
                break
            raw = document.raw
            self.count += 1
            self.content_sha256.update(raw)
            self.buffer += self.compressor.compress(raw)
        size = len(self.buffer) if size < 0 else min(size, len(self.buffer))
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        self.archive_sha256.update(chunk)
        self.archive_bytes += len(chunk)
        return chunk


def upload(documents: Iterator[RawBSONDocument], store: Minio, bucket: str, key: str) -> CompressedExport:
    """Compress and upload `documents` as `key`; the export tells how many and their checksums."""
    source = CompressedExport(documents)
    # Minio reads the export like a file (`read(size)`), in parts of PART_SIZE.
    store.put_object(
        bucket, key, cast(BinaryIO, source), length=-1, part_size=PART_SIZE, content_type="application/gzip"
    )
    return source


class _Hashing:
    """Wraps a download stream, hashing what is read."""

    def __init__(self, stream: Readable) -> None:
        self.stream = stream
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.sha256.update(chunk)
        return chunk


def _documents(stream: Readable) -> Iterator[RawBSONDocument]:
    while True:
        head = stream.read(4)
        if not head:
            return
        if len(head) < 4:
            raise ValueError("truncated archive")
        (length,) = struct.unpack("<i", head)
        body = stream.read(length - 4)
        if len(body) != length - 4:
            raise ValueError("truncated archive")
        yield RawBSONDocument(head + body)


def download(store: Minio, bucket: str, key: str, insert: Callable[[list[RawBSONDocument]], object]) -> str:
    """Hand the archive's documents to `insert` in batches; returns the archive's SHA-256 as downloaded."""
    response = store.get_object(bucket, key)
    try:
        hashing = _Hashing(response)
        with gzip.GzipFile(fileobj=cast(BinaryIO, hashing), mode="rb") as documents:
            batch: list[RawBSONDocument] = []
            for document in _documents(documents):
                batch.append(document)
                if len(batch) == INSERT_BATCH:
                    insert(batch)
                    batch = []
            if batch:
                insert(batch)
        while hashing.read(64 * 1024):
            pass  # hash any trailing bytes gzip did not need
        return hashing.sha256.hexdigest()
    finally:
        response.close()
        response.release_conn()
