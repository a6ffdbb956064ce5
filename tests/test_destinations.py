"""Destinations: parsing at the edge (fuzzed), secret keys on disk, redaction, the CLI."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

import catalog
from catalog.destinations import (
    DestinationError,
    add_destination,
    list_destinations,
    parse_destination,
    read_key,
    redact,
    remove_destination,
)

KEY_CHARS = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_?=&.", min_size=5, max_size=60)
ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=80), st.lists(st.text(max_size=5)))


@settings(max_examples=300, deadline=None)
@given(name=ANYTHING, url=st.one_of(ANYTHING, st.from_regex(r"\Artmps?://[^\s]{0,40}\Z")), key=ANYTHING,
       preset=ANYTHING, own_qr=ANYTHING)
def test_parse_accepts_only_well_formed_destinations(name, url, key, preset, own_qr) -> None:  # type: ignore[no-untyped-def]
    try:
        parsed = parse_destination(name, url, key, preset, own_qr)
    except DestinationError as error:
        refusal = (error.detail, error.detail_zh)
    else:
        refusal = None
    if refusal is not None:
        assert all(refusal)  # a reason in both languages, never another exception
        return
    assert parsed.url.lower().startswith(("rtmp://", "rtmps://"))
    assert parsed.key and not any(ch.isspace() for ch in parsed.key)
    assert parsed.name and "/" not in parsed.name and isinstance(parsed.own_qr, bool)


@settings(max_examples=300, deadline=None)
@given(key=KEY_CHARS, before=st.text(max_size=30), after=st.text(max_size=30),
       host=st.from_regex(r"\A[a-z0-9.-]{1,30}\Z"))
def test_redaction_never_lets_the_key_through(key: str, before: str, after: str, host: str) -> None:
    url = f"rtmp://{host}/live"
    for text in (f"{before}{key}{after}", f"{before}{url}/{key}{after}", f"Error opening {url}/{key}: I/O error"):
        cleaned = redact(text, key, f"{url}/{key}")
        assert key not in cleaned


def test_redaction_keeps_the_server_for_the_host_to_read() -> None:
    text = "Cannot open rtmps://live-push.example.com:443/app/sk-abcdef123?sign=99: I/O error"
    assert redact(text, "sk-abcdef123?sign=99") == "Cannot open rtmps://live-push.example.com/****: I/O error"


def test_keys_live_in_owner_only_files_and_go_with_their_destination(data_dir: Path, db: sqlite_utils.Database) -> None:
    douyin = parse_destination("抖音", "rtmp://push.example/third", "  dy-Key-9876 ", "douyin")
    added = add_destination(db, data_dir, douyin)
    assert added.masked_key == "****9876" and read_key(data_dir, "抖音") == "dy-Key-9876"
    [key_file] = (data_dir / "secrets").iterdir()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "dy-Key-9876" not in (data_dir / catalog.DB_FILENAME).read_bytes().decode("latin-1")
    with pytest.raises(DestinationError, match="exists already"):
        add_destination(db, data_dir, parse_destination("抖音", "rtmp://other.example/x", "other-key", "douyin"))
    assert read_key(data_dir, "抖音") == "dy-Key-9876"  # the duplicate changed nothing
    remove_destination(db, data_dir, "抖音")
    assert list((data_dir / "secrets").iterdir()) == [] and list_destinations(db) == []


def farmlive(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", "destinations", *args, "--data-dir", str(data_dir)],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )


def test_cli_adds_lists_toggles_and_refuses_bad_input(data_dir: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "youtube.key"
    key_file.write_text("yt-abcd-efgh-ijkl\n")
    added = farmlive(data_dir, "add", "YouTube", "rtmps://a.rtmps.youtube.com/live2", "--key-file", str(key_file),
                     "--preset", "youtube")
    assert added.returncode == 0 and "****ijkl" in added.stdout and "abcd-efgh" not in added.stdout
    wechat = farmlive(data_dir, "add", "视频号", "rtmp://push.example/live", "--key-stdin", stdin="wx-key-1\n")
    assert wechat.returncode == 0
    assert farmlive(data_dir, "disable", "视频号").returncode == 0
    listing = farmlive(data_dir, "list").stdout
    assert "YouTube\tYouTube\trtmps://a.rtmps.youtube.com/live2\t****ijkl\tenabled" in listing
    assert "视频号" in listing and "disabled" in listing and "wx-key-1" not in listing

    for args, stdin, says in [
        (("add", "x", "http://push.example/live", "--key-stdin"), "k-1234", "rtmp:// or rtmps://"),
        (("add", "x", "rtmp://push.example/live", "--key-stdin"), "\n", "stream key is empty"),
        (("add", "YouTube", "rtmp://push.example/live", "--key-stdin"), "k-1234", "exists already"),
        (("add", "x", "rtmp://push.example/live", "--key-stdin", "--preset", "tiktok"), "k-1234", "unknown preset"),
        (("remove", "nope"), "", "unknown destination"),
    ]:
        result = farmlive(data_dir, *args, stdin=stdin)
        assert result.returncode == 2 and says in result.stderr, (args, result.stderr)
    assert len(list((data_dir / "secrets").iterdir())) == 2  # nothing stored by the refusals
    db = catalog.open_db(data_dir)
    assert [d.name for d in list_destinations(db)] == ["YouTube", "视频号"]
    db.conn.close()
