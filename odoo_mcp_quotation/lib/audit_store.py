"""Where audit documents go: an S3 bucket (boto3) and/or a local directory.

No Odoo here: the ``quotation.audit.entry`` model hands over ``(key, body)``
pairs and gets back, per pair, ``None`` or an explanation fit for an operator.
Explanations never contain credentials: they are built from error codes, not
from whatever a library put in its message.
"""

import base64
import errno
import functools
import hashlib
import os
import re
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


# S3 refuses keys over 1,024 bytes; a prefix of at most 256 leaves room for
# "/YYYY/MM/DD/<32 hex>/<event>-<n>.json"
MAX_KEY_BYTES = 1024
MAX_PREFIX = 256
KEY_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]*")
# the store rejected this document, not the store being down: others still go
DOCUMENT_CODES = {"KeyTooLongError", "InvalidArgument", "InvalidObjectName"}

_CLIENT_LOCK = threading.Lock()


def key_prefix(value):
    """The audit key prefix as a clean ``a/b`` path; ValueError if it is unsafe.

    Segments hold letters, digits, ``-``, ``_`` and ``.`` and never start
    with a dot, so no prefix climbs out of a directory or hides a file.
    """
    segments = [segment for segment in (value or "").strip().split("/") if segment]
    prefix = "/".join(segments)
    if len(prefix) > MAX_PREFIX or not all(map(KEY_SEGMENT.fullmatch, segments)):
        raise ValueError(
            f"The audit key prefix may hold at most {MAX_PREFIX} letters, digits "
            "and - _ . / with no segment starting with a dot: for example "
            "quotation-audit/production."
        )
    return prefix


def object_key(prefix, *segments):
    """``<prefix>/<segment>/...``: ``prefix`` as :func:`key_prefix` returned
    it; every segment is checked, never trusted."""
    for segment in segments:
        if not KEY_SEGMENT.fullmatch(segment):
            raise ValueError(f"Unsafe audit key segment {segment[:64]!r}.")
    key = "/".join([prefix, *segments]).lstrip("/")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"The audit key is longer than {MAX_KEY_BYTES} bytes.")
    return key


@functools.cache
def _shared_session():
    """One boto3 session per process: it caches the S3 model, slow to load
    (docs/performance.md)."""
    return boto3.session.Session()


def _s3_client(**options):
    # sessions are not thread-safe (clients are): create clients one at a time
    with _CLIENT_LOCK:
        return _shared_session().client("s3", **options)


class AuditStoreError(Exception):
    """A destination refused or could not be reached; the message says what to do.

    ``document_only``: the store refused this document (its key), not every
    document: the others of its batch are still sent.
    """

    def __init__(self, message, document_only=False):
        super().__init__(message)
        self.document_only = document_only


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
            code = isinstance(error, ClientError) and error.response.get(
                "Error", {}
            ).get("Code")
            raise AuditStoreError(
                self.explain(error), document_only=code in DOCUMENT_CODES
            ) from None

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
            raise AuditStoreError(
                f"{self}: the key {key} leaves the directory.", document_only=True
            )
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
                "that the directory exists and the Odoo user may write in it.",
                document_only=error.errno == errno.ENAMETOOLONG,
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

    The first document goes alone: if the destination fails, it is taken to be
    down and the others are not tried (their error is the same), so an outage
    costs one failed request per batch, not one per document. A refusal of that
    one document (its key) holds back no other.
    """
    if not documents:
        return []
    try:
        put_everywhere(destinations, *documents[0])
    except AuditStoreError as error:
        if not error.document_only:
            return [str(error)] * len(documents)
        return [str(error), *put_many(destinations, documents[1:], concurrency)]
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
