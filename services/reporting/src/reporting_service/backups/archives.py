"""Streaming export and import of one collection as a gzip-compressed BSON archive (the same
byte format as mongodump's .bson, compressed). Synchronous: run in a worker thread.

The export never holds a collection in memory: documents are read from a cursor in `_id` order,
compressed as they go and uploaded in parts. Two checksums are kept: of the archive file, and of
the documents' BSON bytes in `_id` order (what a restore verifies the restored data against).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from bson.raw_bson import RawBSONDocument
from minio import Minio
from pymongo import ASCENDING
from pymongo.collection import Collection

PART_SIZE = 8 * 1024 * 1024
INSERT_BATCH = 500


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


def content_checksum(collection: Collection) -> tuple[int, str]:
    """(document count, SHA-256 of the documents' BSON in `_id` order) of a live collection."""
    digest = hashlib.sha256()
    count = 0
    for document in raw(collection).find().sort("_id", ASCENDING):
        digest.update(document.raw)
        count += 1
    return count, digest.hexdigest()


def raw(collection: Collection) -> Collection:
    return collection.with_options(codec_options=collection.codec_options.with_options(document_class=RawBSONDocument))


def export_collection(collection: Collection, store: Minio, bucket: str, key: str) -> dict[str, Any]:
    source = CompressedExport(iter(raw(collection).find().sort("_id", ASCENDING)))
    store.put_object(bucket, key, source, length=-1, part_size=PART_SIZE, content_type="application/gzip")
    indexes = []
    for index in collection.list_indexes():
        spec = dict(index)
        if spec["name"] == "_id_":
            continue
        spec.pop("v", None)
        spec.pop("ns", None)
        spec["key"] = list(spec["key"].items())
        indexes.append(spec)
    return {
        "name": collection.name,
        "documents": source.count,
        "archive_key": key,
        "archive_bytes": source.archive_bytes,
        "archive_sha256": source.archive_sha256.hexdigest(),
        "content_sha256": source.content_sha256.hexdigest(),
        "indexes": indexes,
    }


class _Hashing:
    """Wraps a download stream, hashing what is read."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.sha256.update(chunk)
        return chunk


def _documents(stream: Any) -> Iterator[RawBSONDocument]:
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


def import_collection(store: Minio, bucket: str, key: str, target: Collection) -> str:
    """Insert the archive's documents into `target`; returns the archive's SHA-256 as downloaded."""
    response = store.get_object(bucket, key)
    try:
        hashing = _Hashing(response)
        with gzip.GzipFile(fileobj=hashing, mode="rb") as documents:
            batch: list[RawBSONDocument] = []
            for document in _documents(documents):
                batch.append(document)
                if len(batch) == INSERT_BATCH:
                    target.insert_many(batch, ordered=True)
                    batch = []
            if batch:
                target.insert_many(batch, ordered=True)
        while hashing.read(64 * 1024):
            pass  # hash any trailing bytes gzip did not need
        return hashing.sha256.hexdigest()
    finally:
        response.close()
        response.release_conn()
