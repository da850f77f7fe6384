"""Fixtures of the recording tests.

* `sfu`: an in-process SFU for the media-pipeline tests (loopback ICE).
* `rec_stack`: the real stack (same processes as `make run`) with short recorder leases and fast
  webhook retries, shared by the end-to-end tests of this package; `rec` wraps its REST API and
  makes SDK peers that publish synthetic media.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from recording_helpers import MiniSfu, RecApi
from rtk_sfu.media import IceConfig, MediaConfig, MediaRouter
from stack_support import loopback_only_ice, start_stack

loopback_only_ice()  # the in-process SDK peers and mini SFU

REC_ENV = {
    "RTK_RECORDING_MAX_CONCURRENT": "2",
    "RTK_RECORDING_HEARTBEAT_SECONDS": "0.5",
    "RTK_RECORDING_LEASE_SECONDS": "3",
    "RTK_RECORDING_SWEEP_SECONDS": "0.5",
    "RTK_RECORDING_COMPOSITE_FPS": "10",
    "RTK_RECORDING_ALONE_SECONDS": "2",
    "RTK_WEBHOOK_RETRY_BASE_SECONDS": "0.25",
    "RTK_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "2",
    "RTK_WEBHOOK_POLL_SECONDS": "0.2",
}


@pytest.fixture
async def sfu() -> AsyncIterator[MiniSfu]:
    mini = MiniSfu(MediaRouter(MediaConfig(ice=IceConfig(addresses=("127.0.0.1",)))))
    try:
        yield mini
    finally:
        await mini.close()



@pytest.fixture(scope="package")
async def rec_stack(request: pytest.FixtureRequest, infra: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    env = {**REC_ENV, "RTK_WEBHOOK_CONSUMER": f"meeting-webhook-dispatch-rec-{uuid.uuid4().hex[:8]}",
           "RTK_RECORDING_SESSION_EVENTS_DURABLE": f"recording-session-events-{uuid.uuid4().hex[:8]}"}
    running = start_stack(infra, tmp_path_factory.mktemp("recording-stack"), await infra.create_database(),
                               extra_env=env)
    yield running
    running.dev.stop()


@pytest.fixture
async def rec(rec_stack: Any) -> AsyncIterator[RecApi]:
    api = RecApi(rec_stack)
    yield api
    await asyncio.gather(*(c.leave() for c in api.clients), return_exceptions=True)
    await api.close()


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self):  # noqa: ANN201 - a boto3 S3 client with the server's credentials
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)


@pytest.fixture(scope="package")
def s3_server() -> Iterator[S3Server]:
    """A real S3 API server (moto's, in a thread on 127.0.0.1) that checks request signatures:
    an IAM user with S3 rights is created while the server is still open, then authentication is
    switched on for every later request."""
    import boto3
    from moto import settings as moto_settings
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="recorder")
        iam.put_user_policy(UserName="recorder", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="recorder")["AccessKey"]
        s3 = S3Server(endpoint, "recordings", key["AccessKeyId"], key["SecretAccessKey"])
        s3.client().create_bucket(Bucket=s3.bucket)
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from now on every request must be signed right
        yield s3
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        server.stop()
