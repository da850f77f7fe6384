"""S3-compatible storage (recorder/storage.py) against a real S3 API server that verifies AWS
Signature Version 4: single PUT, multipart upload, reading back, presigned GET links, and a
wrong secret refused."""

from __future__ import annotations

import os
import urllib.parse

import httpx
import pytest
from moto import settings as moto_settings
from rtk_recording.recorder import storage as st
from rtk_recording.recorder.storage import S3Config, S3Storage, StorageError


def _storage(s3, **overrides) -> S3Storage:
    config = dict(endpoint=s3.endpoint, bucket=s3.bucket, region=s3.region, access_key=s3.access_key,
                  secret_key=s3.secret_key, prefix="rec")
    config.update(overrides)
    return S3Storage(S3Config(**config))


def _signature(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]


def _botocore_signature(url: str, s3) -> str:
    """The signature botocore computes for the same request at the link's X-Amz-Date."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    auth = S3SigV4QueryAuth(Credentials(s3.access_key, s3.secret_key), "s3", s3.region,
                            expires=int(query["X-Amz-Expires"][0]))
    request = AWSRequest(method="GET", url=f"{parts.scheme}://{parts.netloc}{parts.path}")
    request.context["timestamp"] = query["X-Amz-Date"][0]
    auth._modify_request_before_signing(request)
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


async def _read(storage: S3Storage, key: str) -> bytes:
    size, chunks = await storage.open(key)
    data = b"".join([c async for c in chunks])
    assert size == len(data)
    return data


async def test_single_put_read_back_and_presigned_link(s3_server, tmp_path, monkeypatch):
    payload = os.urandom(300_000)
    path = tmp_path / "a.webm"
    path.write_bytes(payload)
    storage = _storage(s3_server)
    assert await storage.put("app/rec-1/a.webm", path, "video/webm") == len(payload)
    head = s3_server.client().head_object(Bucket=s3_server.bucket, Key="rec/app/rec-1/a.webm")
    assert head["ContentLength"] == len(payload) and head["ContentType"] == "video/webm"
    assert await _read(storage, "app/rec-1/a.webm") == payload
    url = storage.presigned_get("app/rec-1/a.webm", 60)
    assert _signature(url) == _botocore_signature(url, s3_server)
    # moto checks header signatures only (a presigned request crashes its checker), so the link
    # is fetched with authentication off: it names the right object; botocore vouches for the HMAC.
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        assert response.status_code == 200 and response.content == payload
    with pytest.raises(FileNotFoundError):
        await storage.open("app/rec-1/missing.webm")


async def test_multipart_upload_of_a_large_file(s3_server, tmp_path, monkeypatch):
    monkeypatch.setattr(st, "SINGLE_PUT_LIMIT", 1024 * 1024)
    monkeypatch.setattr(st, "PART_SIZE", 5 * 1024 * 1024)  # S3's smallest part
    payload = os.urandom(11 * 1024 * 1024)  # three parts
    path = tmp_path / "big.mp4"
    path.write_bytes(payload)
    storage = _storage(s3_server)
    assert await storage.put("app/rec-2/big.mp4", path, "video/mp4") == len(payload)
    assert await _read(storage, "app/rec-2/big.mp4") == payload


async def test_a_wrong_secret_is_refused(s3_server, tmp_path):
    path = tmp_path / "x.ogg"
    path.write_bytes(b"x" * 1000)
    with pytest.raises(StorageError, match="HTTP 403"):
        await _storage(s3_server, secret_key="not-the-secret").put("app/rec-3/x.ogg", path, "audio/ogg")
