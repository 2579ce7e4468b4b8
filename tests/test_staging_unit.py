"""Staging building blocks: line splitting, jsonpaths parsing, the Redshift COPY."""

from __future__ import annotations

import pytest

from include.sparkify.staging import StagingError, copy_statement, parse_jsonpath, split_lines


def lines(*chunks):
    return [(n, reason.decode(), text.decode()) for n, reason, text in split_lines(chunks)]


def test_no_final_newline_and_chunk_boundaries():
    data = b'{"a":1}\n{"a":2}\n{"a":3}'
    expected = [(1, "", '{"a":1}'), (2, "", '{"a":2}'), (3, "", '{"a":3}')]
    assert lines(data) == expected
    for cut in range(1, len(data)):  # any chunking gives the same lines
        assert lines(data[:cut], data[cut:]) == expected


def test_crlf_bom_and_blank_lines():
    data = b'\xef\xbb\xbf{"a":1}\r\n\r\n   \n{"a":"\xc3\xa9"}\r\n'
    assert lines(data) == [(1, "", '{"a":1}'), (4, "", '{"a":"é"}')]


def test_unsafe_lines_come_back_with_a_reason():
    data = b'{"a":1}\n{"a":"\xff"}\n{"a":"x\x00"}\n{"a":2}'
    got = lines(data)
    assert got[0] == (1, "", '{"a":1}') and got[3] == (4, "", '{"a":2}')
    assert got[1][0] == 2 and got[1][1].startswith("invalid UTF-8") and "\\xff" in got[1][2]
    assert got[2][0] == 3 and "NUL" in got[2][1] and "\x00" not in got[2][2]


def test_parse_jsonpath():
    assert parse_jsonpath("$['artist']") == ["artist"]
    assert parse_jsonpath("$.a.b") == ["a", "b"]
    assert parse_jsonpath('$["a"][0]') == ["a", "0"]
    for bad in ("artist", "$", "$[artist]"):
        with pytest.raises(StagingError):
            parse_jsonpath(bad)


def test_copy_statement_for_logs_and_songs():
    logs = copy_statement(
        "staging_events",
        "s3://b/log_data/2018/11/2018-11-15-events.json",
        "s3://b/log_json_path.json",
        "IAM_ROLE 'arn:aws:iam::1:role/r'",
        "us-west-2",
    )
    assert logs.startswith("COPY staging_events FROM 's3://b/log_data/2018/11/2018-11-15-events.json' ")
    assert "FORMAT AS JSON 's3://b/log_json_path.json'" in logs
    assert "REGION 'us-west-2'" in logs and "IAM_ROLE 'arn:aws:iam::1:role/r'" in logs
    songs = copy_statement("staging_songs", "s3://b/song_data/", None, "IAM_ROLE 'x'", "eu-west-1")
    assert "FORMAT AS JSON 'auto'" in songs and "REGION 'eu-west-1'" in songs
    with pytest.raises(StagingError):
        copy_statement("users; drop table x", "s3://b/k", None, "", "r")
    assert "'s3://b/it''s'" in copy_statement("staging_songs", "s3://b/it's", None, "", "r")
