"""Small S3 objects read with one signed GET each, and keys listed by signed ListObjectsV2
GETs, when S3 is a local stand-in (the PostgreSQL engine's reads; every engine's listing).

Measured on 2026-11-30 (5,000 objects of the song catalog from the local moto, 8 threads):
boto3's ``get_object`` costs the client 1.8 ms of CPU per object: the request's
serialisation, about ten event hooks, the endpoint rules, and parsing the answer's headers
(``Last-Modified`` through dateutil). Under one GIL that was the limit of staging the
catalog (14,896 objects). The same GET signed by botocore's own signer (``S3SigV4Auth``,
with the hook's credentials) and sent through urllib3 cost 0.8-1.1 ms; through
``http.client`` on a connection each thread keeps, 0.64 ms, 0.25 of it signing; signed
here (``GetSigner``, the same signature), 0.03 ms of signing.

Used only for an ``http://`` endpoint: AWS's S3 is always ``https://``, so that is a
stand-in named by the connection's ``endpoint_url`` (moto, MinIO), where the client's CPU
is the limit. Against AWS, each GET's round trip is, and boto3 reads every object as
before. Any answer but 200 reads the object again through boto3, so what fails fails with
boto3's error and retries. A GET that fails twice (the second time on a new connection:
the server may have closed a kept one) does too, and the rest of the load reads through
boto3. An endpoint reached through a proxy (the client's configuration, or the
environment's ``http_proxy``) is read through boto3 throughout.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"  # S3's XML namespace
PROBE_KEY = "sparkify-probe"  # the key whose presigned URL shows where a key goes in a URL
TIMEOUT_SECONDS = 60


class ObjectReader:
    """Reads an object's first bytes: by a signed GET on a stand-in, else by boto3. Each
    thread that reads keeps one connection open; ``close`` closes them all."""

    def __init__(self, s3_client, s3_hook, bucket: str) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.base = self.signer = None
        self.local = threading.local()
        self.connections: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()
        endpoint = urlsplit(s3_client.meta.endpoint_url or "")
        if endpoint.scheme != "http" or _proxied(s3_client, endpoint.hostname or ""):
            return
        url = urlsplit(s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": PROBE_KEY}))
        if (url.scheme, url.netloc) != (endpoint.scheme, endpoint.netloc) or not url.path.endswith("/" + PROBE_KEY):
            log.info("S3 endpoint %s: its URLs are not <endpoint>/<path>/<key>; objects are read through boto3", url)
            return
        credentials = s3_hook.get_credentials(region_name=s3_client.meta.region_name) if s3_hook else None
        if credentials is None or not credentials.access_key:  # unsigned requests: boto3's to make
            return
        self.host, self.port = url.hostname, url.port
        # The Host header as botocore signs it: an IPv6 address in brackets, port 80 left out
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        self.host_header = f"{host}:{url.port}" if url.port not in (None, 80) else host
        self.base = url.path.removesuffix(PROBE_KEY)
        self.signer = GetSigner(credentials, s3_client.meta.region_name)

    @property
    def direct(self) -> bool:
        return self.base is not None

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            for connection in self.connections:
                connection.close()
            self.connections.clear()

    def read(self, key: str, limit: int) -> bytes:
        """The object's first ``limit`` bytes (all of it, if it is no longer)."""
        base = self.base  # read once: another thread may turn the direct reads off meanwhile
        if base is not None:
            from botocore.utils import percent_encode

            path = base + percent_encode(key, safe="/~")  # a key, as botocore puts it in a path
            data = self._signed_get(path, limit)
            if data is not None:
                return data
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            return body.read(limit)
        finally:
            body.close()

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            connection = self.local.connection = http.client.HTTPConnection(
                self.host, self.port, timeout=TIMEOUT_SECONDS
            )
            with self.lock:
                self.connections.append(connection)
        return connection

    def list(self, prefix: str) -> list[tuple[str, int, str]] | None:
        """Every key under ``prefix`` with its size and ETag, in key order, by signed
        ListObjectsV2 GETs; None when boto3 has to list (not a stand-in, or an answer that is
        not a 200 listing). botocore parses a listing's LastModified of each key with dateutil:
        2.7 of the 3.2 s of client CPU a listing of the song catalog cost; this reads only the
        three fields staging uses."""
        from urllib.parse import quote

        base = self.base
        if base is None:
            return None
        found, token = [], None
        while True:
            params = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}  # keys URL-encoded, as botocore asks
            if token:
                params["continuation-token"] = token
            # SigV4's canonical query string: sorted, every byte but A-Z a-z 0-9 - _ . ~ encoded
            query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(params.items()))
            body = self._signed_get(base.rstrip("/") + "?" + query, None)
            page = listed_page(body) if body is not None else None
            if page is None:
                return None
            keys, truncated, next_token = page
            found += keys
            if not truncated:
                return found
            if not next_token or next_token == token:  # nothing to continue from: boto3 lists, and says why
                return None
            token = next_token

    def _signed_get(self, path: str, limit: int | None) -> bytes | None:
        """The bytes of a 200 answer to a signed GET of ``path`` (the first ``limit``), else
        None (boto3 asks again, with its errors). A kept connection the server has closed
        meanwhile is opened again, once."""
        headers = self.signer.headers(self.host_header, path)
        failure: Exception | None = None
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request("GET", path, headers=headers)
                answer = connection.getresponse()
                if answer.status != 200:
                    answer.read()  # an error document: boto3 asks again and raises its error
                    return None
                data = answer.read(limit)
                if not answer.isclosed():  # longer than limit: the rest is not read, nor the connection kept
                    connection.close()
                return data
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                failure = error
        log.warning("GET %s failed twice (%s); this load reads the rest through boto3", path, failure)
        self.base = None
        return None


def listed_page(body: bytes) -> tuple[list[tuple[str, int, str]], bool, str | None] | None:
    """A ListObjectsV2 answer's keys (with size and ETag), whether it is truncated, and the
    token to continue from; None if it is not a listing of that shape. Keys are URL-decoded
    only when the answer says they are encoded, as botocore does (``_decode_list_object``)."""
    from urllib.parse import unquote_plus
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag != NS + "ListBucketResult":
        return None
    decode = unquote_plus if root.findtext(NS + "EncodingType") == "url" else str
    keys = []
    for item in root.iterfind(NS + "Contents"):
        key, size, etag = (item.findtext(NS + name) for name in ("Key", "Size", "ETag"))
        if key is None or size is None or not size.isdigit():
            return None
        keys.append((decode(key), int(size), (etag or "").strip('"')))
    return keys, root.findtext(NS + "IsTruncated") == "true", root.findtext(NS + "NextContinuationToken")


class GetSigner:
    """Signature Version 4 for a GET with no body, as botocore's ``S3SigV4Auth`` signs one on
    an http:// endpoint (the payload's SHA-256 signed; the path and query as sent, S3 takes
    them unnormalised): the same headers at 0.03 ms a request instead of 0.25 ms, the
    signing key derived once a day. tests/unit/staging/test_fetch.py compares the two.
    https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html"""

    EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

    def __init__(self, credentials, region: str) -> None:
        self.credentials, self.region = credentials, region
        self.day_key = ("", b"")  # one attribute: the reader's threads share it

    def headers(self, host: str, path: str, now: datetime | None = None) -> dict[str, str]:
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day, scope = stamp[:8], f"{stamp[:8]}/{self.region}/s3/aws4_request"
        known_day, key = self.day_key
        if day != known_day:
            key = f"AWS4{self.credentials.secret_key}".encode()
            for part in (day, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self.day_key = (day, key)
        signed = {"host": host, "x-amz-content-sha256": self.EMPTY_SHA256, "x-amz-date": stamp}
        if self.credentials.token:
            signed["x-amz-security-token"] = self.credentials.token
        names = ";".join(sorted(signed))
        uri, _, query = path.partition("?")
        canonical = "\n".join(
            ["GET", uri, query, *(f"{name}:{signed[name]}" for name in sorted(signed)), "", names, self.EMPTY_SHA256]
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            **signed,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.credentials.access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}",
        }


def _proxied(s3_client, host: str) -> bool:
    from urllib.request import getproxies, proxy_bypass

    configured = getattr(s3_client.meta.config, "proxies", None) or {}
    return bool(configured) or ("http" in getproxies() and not proxy_bypass(host))
