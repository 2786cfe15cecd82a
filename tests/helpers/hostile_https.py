"""A hostile HTTPS server on loopback: what a stranger's client_id URL can serve.

Its certificate is made at test time (openssl, for 127.0.0.1 only); an Odoo
server under test trusts it through ``SSL_CERT_FILE`` and fetches from
loopback only with ``ODOO_MCP_OAUTH_TEST_MODE=1``, which no database user can
set. Each path is one way to hurt the server that fetches:

- ``/client.json`` (and any path starting ``/client``): a good document (its
  client_id is its own URL), or the one ``documents`` holds for the path;
- ``/trickle.json``: a status line and headers, one byte every half second;
- ``/slow-body.json``: quick headers, then the body one byte at a time;
- ``/gzip.json``: ``Content-Encoding: gzip, gzip``, a few KB that inflate to
  512 MiB;
- ``/redirect.json``: a 302 to the good document;
- ``/oversize.json``: a 50 MB body, sent as fast as it is read;
- ``/chunked.json``: chunks without end;
- ``/headers.json``: header lines without end;

and ``stall_url``: a port that accepts connections and never answers the TLS
handshake. A query string changes nothing but the URL (a distinct client_id);
``requests`` counts the requests that reached the server by path and query.
"""

import gzip
import json
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections import Counter

TRICKLE_SECONDS = 0.5
TEST_HOST_NAME = "hostile.test"
INFLATED_BYTES = 512 * 1024 * 1024


def make_certificate(folder):
    """A self-signed certificate for 127.0.0.1 (and TEST_HOST_NAME, which a
    test resolves itself) and its key: ``(cert, key)``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            f"subjectAltName=IP:127.0.0.1,DNS:{TEST_HOST_NAME}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def gzip_chain(inflated=INFLATED_BYTES):
    """``gzip(gzip(zeros))``: a few KB that a client decoding ``gzip, gzip``
    inflates to ``inflated`` bytes (the inner layer is one member repeated)."""
    member_size = 64 * 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # a gzip member
    member = compressor.compress(bytes(member_size)) + compressor.flush()
    return gzip.compress(member * (inflated // member_size), 9)


class HostileHttpsServer:
    def __init__(self, folder):
        self.cert, self.key = make_certificate(folder)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, self.key)
        self.bomb = gzip_chain()
        self.requests = Counter()
        self.documents = {}  # path: a document served there as it is
        self.stopping = threading.Event()
        self.listener = self._listen()
        self.staller = self._listen()
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stall_url = (
            f"https://127.0.0.1:{self.staller.getsockname()[1]}/client.json"
        )
        self.stalled = []
        for target in (self._serve, self._stall):
            threading.Thread(target=target, daemon=True).start()

    @staticmethod
    def _listen():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.settimeout(0.2)
        return sock

    def document(self, path="/client.json", **changes):
        """A good document for ``path`` (as served there), with ``changes``."""
        return {
            "client_id": f"{self.url}{path}",
            "client_name": "Hostile test client",
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "token_endpoint_auth_method": "none",
            **changes,
        }

    def close(self):
        self.stopping.set()
        for sock in (self.listener, self.staller, *self.stalled):
            sock.close()

    # ------------------------------------------------------------ serving
    def _accepted(self, listener):
        while not self.stopping.is_set():
            try:
                yield listener.accept()[0]
            except TimeoutError:
                continue
            except OSError:
                return

    def _stall(self):
        for sock in self._accepted(self.staller):
            self.stalled.append(sock)  # held open, never a byte

    def _serve(self):
        for sock in self._accepted(self.listener):
            threading.Thread(target=self._answer, args=(sock,), daemon=True).start()

    def _answer(self, sock):
        try:
            sock.settimeout(30)
            tls = self.context.wrap_socket(sock, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                part = tls.recv(4096)
                if not part:
                    return
                request += part
            target = request.split(b" ", 2)[1].decode()
            self.requests[target] += 1
            path = target.split("?")[0]
            if path in self.documents or path.startswith("/client"):
                handler = self._client
            else:
                name = path.strip("/").removesuffix(".json").replace("-", "_")
                handler = getattr(self, f"_{name}", self._not_found)
            handler(tls, path)
        except (OSError, ssl.SSLError):
            pass  # the fetching side hung up: that is the point
        finally:
            sock.close()

    def _send(self, tls, status, headers, body=b""):
        head = f"HTTP/1.1 {status}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        tls.sendall(head.encode() + b"\r\n" + body)

    def _not_found(self, tls, _path):
        self._send(tls, "404 Not Found", {"Content-Length": "0"})

    def _trickle_bytes(self, tls, data):
        for byte in data:
            if self.stopping.is_set():
                return
            tls.sendall(bytes([byte]))
            time.sleep(TRICKLE_SECONDS)

    def _client(self, tls, path):
        document = self.documents.get(path) or self.document(path)
        body = json.dumps(document).encode()
        self._send(
            tls,
            "200 OK",
            {"Content-Type": "application/json", "Content-Length": len(body)},
            body,
        )

    def _trickle(self, tls, _path):
        self._trickle_bytes(tls, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: a\r\n" * 10_000)

    def _slow_body(self, tls, path):
        body = json.dumps(self.document(path)).encode()
        self._send(tls, "200 OK", {"Content-Length": len(body)})
        self._trickle_bytes(tls, body)

    def _gzip(self, tls, _path):
        self._send(
            tls,
            "200 OK",
            {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip, gzip",
                "Content-Length": len(self.bomb),
            },
            self.bomb,
        )

    def _redirect(self, tls, _path):
        self._send(
            tls,
            "302 Found",
            {"Location": f"{self.url}/client.json", "Content-Length": "0"},
        )

    def _oversize(self, tls, _path):
        size = 50 * 1024 * 1024
        self._send(tls, "200 OK", {"Content-Length": size})
        block = b" " * 65536
        for _ in range(size // len(block)):
            tls.sendall(block)

    def _chunked(self, tls, _path):
        self._send(tls, "200 OK", {"Transfer-Encoding": "chunked"})
        chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
        while not self.stopping.is_set():
            tls.sendall(chunk)

    def _headers(self, tls, _path):
        tls.sendall(b"HTTP/1.1 200 OK\r\n")
        while not self.stopping.is_set():
            tls.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")


HOSTILE_PATHS = (
    "/trickle.json",
    "/slow-body.json",
    "/gzip.json",
    "/redirect.json",
    "/oversize.json",
    "/chunked.json",
    "/headers.json",
)
