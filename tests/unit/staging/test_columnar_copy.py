"""The columnar path's COPY (include/sparkify/staging/columnar_copy.py): objects converted a few
ahead (AHEAD), in order, fetched only when their size allows the columnar path."""

from __future__ import annotations

from include.sparkify.staging import columnar, columnar_copy


def test_convert_all_keeps_the_order_and_fetches_only_what_fits():
    fetched = []

    class Obj:
        def __init__(self, key, size):
            self.key, self.size = key, size

    class Converter:
        def convert(self, data, key, limit):
            return columnar.Converted(data, rows=1)

        def encode(self, converted):
            return columnar.Converted(None, rows=converted.rows, csv=converted.table)

    def fetch(o):
        fetched.append(o.key)
        return o.key.encode()

    objects = [Obj("a", 20 << 10), Obj("tiny", 10), Obj("b", 20 << 10), Obj("huge", 65 << 20), Obj("c", 20 << 10)]
    out = [(o.key, c.csv) for o, c in columnar_copy.convert_all(fetch, objects, Converter(), 1 << 20)]
    assert out == [("a", b"a"), ("tiny", None), ("b", b"b"), ("huge", None), ("c", b"c")]
    assert fetched == ["a", "b", "c"]
