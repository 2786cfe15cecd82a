"""A real S3-compatible server for tests: moto in server mode on loopback.

moto's Flask and Werkzeug clash with Odoo's pins, so it runs from its own
virtualenv (``tests/venvs/s3-server.txt``, exported by the harness as
``OMQ_VENV_S3_SERVER``), as a separate process the tests stop and start to
simulate an outage. Its state lives in memory: a restart empties it, so
:meth:`S3TestServer.start` creates the bucket (and the IAM user) again.
"""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

# moto accepts any key until authentication is enforced
ANY_KEY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
S3_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3TestServer:
    """``moto_server`` on 127.0.0.1 with one bucket.

    With ``enforce_auth`` moto checks signatures against its IAM: the server
    gets a user allowed ``s3:*`` whose key is in :attr:`access_key`, and any
    other key is refused as AWS would refuse it.
    """

    def __init__(self, bucket="audit", enforce_auth=False, port=None):
        self.bucket = bucket
        self.enforce_auth = enforce_auth
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_key = dict(ANY_KEY)
        self.process = None
        descriptor, log_path = tempfile.mkstemp(prefix="moto-", suffix=".log")
        os.close(descriptor)
        self.log_path = Path(log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self, timeout=60):
        python = os.environ.get("OMQ_VENV_S3_SERVER")
        if not python:
            raise RuntimeError(
                "The S3 test server needs moto[server] in its own virtualenv: run "
                "the tests with `make test`, or set OMQ_VENV_S3_SERVER to a python "
                "that has tests/venvs/s3-server.txt installed."
            )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"moto_server not up after {timeout} s"
                    ) from None
                time.sleep(0.2)
        self._provision()
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __del__(self):
        self.log_path.unlink(missing_ok=True)

    def _provision(self):
        self.access_key = dict(ANY_KEY)
        if self.enforce_auth:
            iam = self._client("iam")
            iam.create_user(UserName="odoo-audit")
            iam.put_user_policy(
                UserName="odoo-audit",
                PolicyName="audit-bucket",
                PolicyDocument=json.dumps(S3_POLICY),
            )
            key = iam.create_access_key(UserName="odoo-audit")["AccessKey"]
            self.access_key = {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            }
        self.client().create_bucket(Bucket=self.bucket)
        if self.enforce_auth:
            request = urllib.request.Request(
                f"{self.url}/moto-api/reset-auth",
                data=b"0",  # authenticate every request from now on
                method="POST",
                headers={"Content-Type": "text/plain"},
            )
            with urllib.request.urlopen(request, timeout=10):
                pass

    def _client(self, service, **credentials):
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
            **(credentials or self.access_key),
        )

    def client(self):
        """An S3 client with working credentials, to look at what arrived."""
        return self._client("s3")

    def objects(self, prefix=""):
        """``{key: bytes}`` of every object under ``prefix``."""
        s3 = self.client()
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                found[item["Key"]] = body.read()
        return found

    def count(self, prefix=""):
        s3 = self.client()
        return sum(
            page.get("KeyCount", 0)
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
        )
