"""Where finished recording files go.

* `LocalStorage` — a directory (default `$RTK_DATA_DIR/recordings`; in Kubernetes a mounted
  volume). Files are moved in with an atomic rename when the work directory is on the same
  filesystem, copied otherwise.
* `S3Storage` — any S3-compatible endpoint (AWS, MinIO, DigitalOcean Spaces, R2, …) with
  AWS Signature Version 4 over aiohttp: single PUT up to 64 MiB, multipart above; downloads are
  presigned GET URLs. No S3 SDK is needed.

Keys: `<app_id>/<recording_id>/<file name>` (S3: under RTK_RECORDING_S3_PREFIX, or the customer
storage's `path`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import os
import shutil
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp
from multidict import CIMultiDict

CHUNK = 256 * 1024
PART_SIZE = 16 * 1024 * 1024
SINGLE_PUT_LIMIT = 64 * 1024 * 1024


class StorageError(RuntimeError):
    pass


class Storage(Protocol):
    kind: str

    async def put(self, key: str, path: Path, content_type: str) -> int:
        """Store the file at `key`; returns its size. The local file may be moved away."""

    async def open(self, key: str) -> tuple[int, AsyncIterator[bytes]]:
        """(size, chunks) of a stored file; raises FileNotFoundError."""

    def presigned_get(self, key: str, expires_in: int) -> str | None:
        """A URL the client may fetch directly, or None (stream through the gateway)."""


class LocalStorage:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"invalid key {key!r}")
        return path

    async def put(self, key: str, path: Path, content_type: str) -> int:
        target = self._path(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(path, target)
            except OSError:
                shutil.copyfile(path, target)
                path.unlink(missing_ok=True)
            return target.stat().st_size

        return await asyncio.to_thread(move)

    async def open(self, key: str) -> tuple[int, AsyncIterator[bytes]]:
        path = self._path(key)
        size = path.stat().st_size  # FileNotFoundError when missing

        async def chunks() -> AsyncIterator[bytes]:
            handle = await asyncio.to_thread(open, path, "rb")
            try:
                while True:
                    data = await asyncio.to_thread(handle.read, CHUNK)
                    if not data:
                        return
                    yield data
            finally:
                handle.close()

        return size, chunks()

    def presigned_get(self, key: str, expires_in: int) -> str | None:
        return None


@dataclass(frozen=True)
class S3Config:
    endpoint: str  # https://s3.us-east-1.amazonaws.com, http://127.0.0.1:9000, …
    bucket: str
    region: str
    access_key: str
    secret_key: str
    prefix: str = ""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class SigV4:
    """AWS Signature Version 4 for S3 (path-style URLs), headers or presigned query."""

    def __init__(self, config: S3Config) -> None:
        self.c = config
        parsed = urllib.parse.urlsplit(config.endpoint)
        self.scheme, self.host = parsed.scheme or "https", parsed.netloc
        self.base_path = parsed.path.rstrip("/")

    def _key(self, date: str) -> bytes:
        k = _hmac(f"AWS4{self.c.secret_key}".encode(), date)
        k = _hmac(k, self.c.region)
        k = _hmac(k, "s3")
        return _hmac(k, "aws4_request")

    def path(self, key: str) -> str:
        return f"{self.base_path}/{self.c.bucket}/" + urllib.parse.quote(key, safe="/-_.~")

    def url(self, key: str, query: dict[str, str] | None = None) -> str:
        q = f"?{self._query(query)}" if query else ""
        return f"{self.scheme}://{self.host}{self.path(key)}{q}"

    @staticmethod
    def _query(query: dict[str, str]) -> str:
        return "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                        for k, v in sorted(query.items()))

    def headers(self, method: str, key: str, payload_hash: str, query: dict[str, str] | None = None,
                extra: dict[str, str] | None = None, now: dt.datetime | None = None) -> dict[str, str]:
        now = now or dt.datetime.now(dt.UTC)
        amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        headers = {"host": self.host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date,
                   **{k.lower(): v for k, v in (extra or {}).items()}}
        names = sorted(headers)
        canonical = "\n".join([
            method, self.path(key), self._query(query or {}),
            "".join(f"{n}:{headers[n].strip()}\n" for n in names), ";".join(names), payload_hash,
        ])
        scope = f"{date}/{self.c.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{_sha256(canonical.encode())}"
        signature = hmac.new(self._key(date), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.c.access_key}/{scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={signature}")
        headers.pop("host")
        return headers

    def presign(self, method: str, key: str, expires_in: int, now: dt.datetime | None = None) -> str:
        now = now or dt.datetime.now(dt.UTC)
        amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        scope = f"{date}/{self.c.region}/s3/aws4_request"
        query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{self.c.access_key}/{scope}",
                 "X-Amz-Date": amz_date, "X-Amz-Expires": str(max(1, min(expires_in, 7 * 24 * 3600))),
                 "X-Amz-SignedHeaders": "host"}
        canonical = "\n".join([method, self.path(key), self._query(query), f"host:{self.host}\n", "host",
                               "UNSIGNED-PAYLOAD"])
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{_sha256(canonical.encode())}"
        query["X-Amz-Signature"] = hmac.new(self._key(date), to_sign.encode(), hashlib.sha256).hexdigest()
        return self.url(key, query)


class S3Storage:
    kind = "s3"

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.sig = SigV4(config)

    def _key(self, key: str) -> str:
        prefix = self.config.prefix.strip("/")
        return f"{prefix}/{key}" if prefix else key

    async def _request(self, session: aiohttp.ClientSession, method: str, key: str, body: bytes = b"",
                       query: dict[str, str] | None = None, extra: dict[str, str] | None = None) -> tuple[int, bytes, CIMultiDict[str]]:
        headers = self.sig.headers(method, key, _sha256(body), query, extra)
        async with session.request(method, self.sig.url(key, query), data=body or None, headers=headers) as resp:
            return resp.status, await resp.read(), CIMultiDict(resp.headers)  # header names: any case

    async def put(self, key: str, path: Path, content_type: str) -> int:
        full = self._key(key)
        size = (await asyncio.to_thread(path.stat)).st_size
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if size <= SINGLE_PUT_LIMIT:
                body = await asyncio.to_thread(path.read_bytes)
                status, text, _ = await self._request(session, "PUT", full, body, extra={"content-type": content_type})
                if status // 100 != 2:
                    raise StorageError(f"S3 PUT {full} failed: HTTP {status} {text[:300]!r}")
                return size
            status, text, _ = await self._request(session, "POST", full, query={"uploads": ""},
                                                  extra={"content-type": content_type})
            if status // 100 != 2:
                raise StorageError(f"S3 multipart start failed: HTTP {status} {text[:300]!r}")
            upload_id = _xml_text(text, "UploadId")
            etags: list[str] = []
            try:
                handle = await asyncio.to_thread(open, path, "rb")
                with handle:
                    number = 1
                    while chunk := await asyncio.to_thread(handle.read, PART_SIZE):
                        status, text, headers = await self._request(
                            session, "PUT", full, chunk, query={"partNumber": str(number), "uploadId": upload_id})
                        if status // 100 != 2:
                            raise StorageError(f"S3 part {number} failed: HTTP {status} {text[:300]!r}")
                        etag = headers.get("ETag", "")
                        if not etag:
                            raise StorageError(f"S3 part {number} answer has no ETag")
                        etags.append(etag)
                        number += 1
                done = "<CompleteMultipartUpload>" + "".join(
                    f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>" for i, e in enumerate(etags, 1)
                ) + "</CompleteMultipartUpload>"
                status, text, _ = await self._request(session, "POST", full, done.encode(), query={"uploadId": upload_id})
                if status // 100 != 2 or b"<Error>" in text:
                    raise StorageError(f"S3 multipart completion failed: HTTP {status} {text[:300]!r}")
            except BaseException:
                await self._request(session, "DELETE", full, query={"uploadId": upload_id})
                raise
        return size

    async def open(self, key: str) -> tuple[int, AsyncIterator[bytes]]:
        full = self._key(key)
        session = aiohttp.ClientSession()
        headers = self.sig.headers("GET", full, _sha256(b""))
        resp = await session.get(self.sig.url(full), headers=headers)
        if resp.status == 404:
            resp.release()
            await session.close()
            raise FileNotFoundError(key)
        if resp.status // 100 != 2:
            resp.release()
            await session.close()
            raise StorageError(f"S3 GET {full} failed: HTTP {resp.status}")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for data in resp.content.iter_chunked(CHUNK):
                    yield data
            finally:
                resp.release()
                await session.close()

        return int(resp.headers.get("Content-Length", "0")), chunks()

    def presigned_get(self, key: str, expires_in: int) -> str | None:
        return self.sig.presign("GET", self._key(key), expires_in)


def _xml_text(body: bytes, tag: str) -> str:
    root = ET.fromstring(body)
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag:
            return element.text or ""
    raise StorageError(f"S3 answer without {tag}: {body[:200]!r}")


def customer_s3(storage_config: object) -> S3Storage:
    """An S3Storage for a recording's customer storage_config (aws / digitalocean).

    `host` (an SFTP field in RealtimeKit's schema) is read as an endpoint override so that any
    S3-compatible service can be used ⚠."""
    sc = storage_config
    region = getattr(sc, "region", "") or "us-east-1"
    endpoint = getattr(sc, "host", "")
    if not endpoint:
        from realtime.meeting.v1 import meeting_pb2

        if getattr(sc, "type", 0) == meeting_pb2.STORAGE_TYPE_DIGITALOCEAN:
            endpoint = f"https://{region}.digitaloceanspaces.com"
        else:
            endpoint = f"https://s3.{region}.amazonaws.com"
    elif "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    return S3Storage(S3Config(endpoint=endpoint, bucket=getattr(sc, "bucket", ""), region=region,
                              access_key=getattr(sc, "access_key", ""), secret_key=getattr(sc, "secret", ""),
                              prefix=getattr(sc, "path", "")))
