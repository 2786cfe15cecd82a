"""Where audit documents go: an S3 bucket (boto3) and/or a local directory.

No Odoo here: the ``quotation.audit.entry`` model hands over ``(key, body)``
pairs and gets back, per pair, ``None`` or an explanation fit for an operator.
Explanations never contain credentials: they are built from error codes, not
from whatever a library put in its message.
"""

import base64
import functools
import hashlib
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 20
CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
}


_CLIENT_LOCK = threading.Lock()


@functools.cache
def _shared_session():
    """One boto3 session per process: it caches the S3 model (~200 ms to load)."""
    return boto3.session.Session()


def _s3_client(**options):
    # sessions are not thread-safe (clients are): create clients one at a time
    with _CLIENT_LOCK:
        return _shared_session().client("s3", **options)


class AuditStoreError(Exception):
    """A destination refused or could not be reached; the message says what to do."""


class S3Destination:
    """One bucket and prefix; credentials from settings or boto3's default chain.

    Explicit credentials win; without them boto3 looks in the environment
    (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``),
    the shared config files, then the instance or task role.
    """

    def __init__(
        self,
        bucket,
        *,
        region=None,
        endpoint_url=None,
        access_key_id=None,
        secret_access_key=None,
        max_connections=10,
    ):
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        options = {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"mode": "standard", "max_attempts": 2},
            "max_pool_connections": max(max_connections, 1),
            # plain Content-MD5 integrity, understood by every S3-compatible store
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
        if self.endpoint_url:
            # self-hosted stores are reached by name or IP: no bucket subdomains
            options["s3"] = {"addressing_style": "path"}
        credentials = {}
        if access_key_id and secret_access_key:
            credentials = {
                "aws_access_key_id": access_key_id,
                "aws_secret_access_key": secret_access_key,
            }
        self.client = _s3_client(
            region_name=region or os.environ.get("AWS_REGION") or None,
            endpoint_url=self.endpoint_url,
            config=Config(**options),
            **credentials,
        )

    def __str__(self):
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}{where}"

    def put(self, key, body):
        """Write one object; writing the same key and body again changes nothing."""
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ContentMD5=base64.b64encode(
                    hashlib.md5(body, usedforsecurity=False).digest()
                ).decode(),
            )
        except (BotoCoreError, ClientError) as error:
            raise AuditStoreError(self.explain(error)) from None

    def explain(self, error):
        """Say what went wrong and what to do, from the error's class or code alone."""
        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            advice = (
                "no AWS credentials found. Set the access key in the audit log "
                "settings, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the Odoo "
                "server's environment, or give the server an instance role."
            )
        elif isinstance(error, BotoConnectionError):
            advice = (
                f"cannot connect ({type(error).__name__}). Check the endpoint URL "
                "and that the server can reach it; the entries are kept and sent "
                "when it answers again."
            )
        elif isinstance(error, ClientError):
            advice = self._explain_refusal(error.response)
        else:
            advice = f"{type(error).__name__}."
        return f"{self}: {advice}"

    @staticmethod
    def _explain_refusal(response):
        code = response.get("Error", {}).get("Code") or "Unknown"
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return (
                "the bucket does not exist. Create it or correct the bucket name "
                "in the settings."
            )
        if code in CREDENTIAL_CODES:
            return (
                f"the credentials were refused ({code}). Check the access key ID "
                "and secret access key."
            )
        if code == "AccessDenied" or status == 403:
            return (
                f"access denied ({code}). The credentials need s3:PutObject on this "
                "bucket and prefix."
            )
        return f"the store answered {code} (HTTP {status})."


class LocalDirectory:
    """The same documents as files under a directory, written atomically."""

    def __init__(self, path):
        self.root = Path(path).expanduser()

    def __str__(self):
        return str(self.root)

    def put(self, key, body):
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise AuditStoreError(f"{self}: the key {key} leaves the directory.")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=".", suffix=".tmp", delete=False
            ) as temporary:
                temporary.write(body)
            os.replace(temporary.name, target)
        except OSError as error:
            raise AuditStoreError(
                f"{self}: cannot write {key} ({error.strerror or error}). Check "
                "that the directory exists and the Odoo user may write in it."
            ) from None


def build_destinations(config):
    """The destinations a settings dict names; AuditStoreError if none or unusable.

    ``config`` holds ``s3_bucket``, ``s3_region``, ``s3_endpoint_url``,
    ``s3_access_key_id``, ``s3_secret_access_key``, ``local_directory`` and
    ``concurrency``, as the settings store them.
    """
    destinations = []
    if config.get("s3_bucket"):
        try:
            destinations.append(
                S3Destination(
                    config["s3_bucket"],
                    region=config.get("s3_region"),
                    endpoint_url=config.get("s3_endpoint_url"),
                    access_key_id=config.get("s3_access_key_id"),
                    secret_access_key=config.get("s3_secret_access_key"),
                    max_connections=config.get("concurrency") or 1,
                )
            )
        except (BotoCoreError, ValueError) as error:
            raise AuditStoreError(
                f"s3://{config['s3_bucket']}: the S3 settings are not usable "
                f"({type(error).__name__}); check the endpoint URL "
                "(https://host:port) and the region."
            ) from None
    if config.get("local_directory"):
        destinations.append(LocalDirectory(config["local_directory"]))
    if not destinations:
        raise AuditStoreError(
            "No destination configured: set an S3 bucket or a local directory "
            "in Settings > Sales > AI Quotations audit log."
        )
    return destinations


def put_everywhere(destinations, key, body):
    """Write to every destination; the first refusal is raised."""
    for destination in destinations:
        destination.put(key, body)


def put_many(destinations, documents, concurrency=1):
    """Write ``[(key, body)]`` to every destination; return one error or None each.

    The first document goes alone: if it fails, the destination is taken to be
    down and the others are not tried (their error is the same), so an outage
    costs one failed request per batch, not one per document.
    """
    if not documents:
        return []
    try:
        put_everywhere(destinations, *documents[0])
    except AuditStoreError as error:
        return [str(error)] * len(documents)
    rest = documents[1:]
    with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
        outcomes = list(pool.map(lambda doc: _try_put(destinations, doc), rest))
    return [None, *outcomes]


def _try_put(destinations, document):
    try:
        put_everywhere(destinations, *document)
    except AuditStoreError as error:
        return str(error)
    return None
