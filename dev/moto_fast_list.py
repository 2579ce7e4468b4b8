"""A ListObjectsV2 answer of the local S3 stand-in with its keys written as XML directly.

moto builds the listing itself (``S3Response.list_objects_v2``: which keys, in which order,
truncation, continuation tokens), then serialises it with its generic serialiser, which
walks botocore's service model for every field of every key. Profiled (py-spy on
dev/moto_server.py) while the song catalog was listed: 4.8 s of moto's CPU for 14,896 keys,
3.5 s of it serialising them. Here each key's ``<Contents>`` element is written from a
format string (0.1 s); the rest of the answer (name, prefix, delimiter, common prefixes,
tokens: a few fields) is still moto's serialiser's, and the keys go where it puts them,
right after ``IsTruncated``. A listing whose keys carry anything but the five plain fields
and a checksum algorithm (``fetch-owner``'s Owner, say) is moto's own answer throughout.

tests/test_moto_fast_list.py checks the bytes against moto's own answer.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

PLAIN_FIELDS = frozenset({"Key", "LastModified", "ETag", "Size", "StorageClass"})
CHECKSUM = "ChecksumAlgorithm"  # a list of names, written between ETag and Size (botocore's Object shape)
CONTENTS = (
    "<Contents><Key>{Key}</Key><LastModified>{LastModified}</LastModified><ETag>{ETag}</ETag>{Checksums}"
    "<Size>{Size}</Size><StorageClass>{StorageClass}</StorageClass></Contents>"
)
AFTER = b"</IsTruncated>"


def contents_xml(contents: list[dict]) -> bytes | None:
    """The keys' ``<Contents>`` elements as moto's serialiser writes them, or None if a key
    has a field beyond the plain five and a checksum algorithm."""
    parts = []
    for item in contents:
        if item.keys() - {CHECKSUM} != PLAIN_FIELDS:
            return None
        checksums = item.get(CHECKSUM, [])
        if not (isinstance(checksums, list) and all(isinstance(name, str) for name in checksums)):
            return None
        modified = item["LastModified"]
        if not (isinstance(modified, str) and len(modified) == 24 and modified.endswith(".000Z")):
            return None  # moto's own format (FakeKey.last_modified_ISO8601); anything else: its serialiser
        if not all(isinstance(item[name], str) for name in ("Key", "ETag", "StorageClass")):
            return None
        parts.append(
            CONTENTS.format(
                Key=escape(item["Key"]),
                LastModified=modified,
                ETag=escape(item["ETag"]),
                Checksums="".join(f"<{CHECKSUM}>{escape(name)}</{CHECKSUM}>" for name in checksums),
                Size=int(item["Size"]),
                StorageClass=escape(item["StorageClass"]),
            )
        )
    return "".join(parts).encode()


def install() -> None:
    """Patch moto's S3 responses (in this process) to answer ListObjectsV2 so."""
    from moto import settings
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    serialized = S3Response.serialized
    if getattr(serialized, "sparkify_fast_list", False):
        return  # installed already

    def fast_serialized(self, action_result):
        result = action_result.result
        if (
            self.data.get("Action") != "ListObjectsV2"
            or not isinstance(result, dict)
            or not result.get("Contents")
            or settings.PRETTIFY_RESPONSES  # an indented answer: moto's own throughout
        ):
            return serialized(self, action_result)
        keys = contents_xml(result["Contents"])
        if keys is None:
            return serialized(self, action_result)
        status, headers, body = serialized(self, ActionResult({**result, "Contents": []}))
        raw = body.encode() if isinstance(body, str) else body
        if raw.count(AFTER) != 1:
            return serialized(self, action_result)
        at = raw.index(AFTER) + len(AFTER)
        raw = raw[:at] + keys + raw[at:]
        if "Content-Length" in headers or "content-length" in headers:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(raw))
        return status, headers, raw if isinstance(body, bytes) else raw.decode()

    fast_serialized.sparkify_fast_list = True
    S3Response.serialized = fast_serialized
