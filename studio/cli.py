"""``farmlive``: a thin command line over the catalog, analytics and studio APIs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

from studio.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT
from studio.order_guard import OrderLimits
from studio.serve import MAX_CONNECTIONS_PER_IP


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(DEFAULT_DATA_DIR),
        help="folder holding farmlive.db, the studio key and recordings (default: ./data)",
    )


def _add_timezone(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timezone",
        default=None,
        help="time zone every time is shown in (default $FARMLIVE_TIMEZONE, else Asia/Shanghai); UTC is stored",
    )


def _add_address(parser: argparse.ArgumentParser) -> None:
    """Where the studio listens and the origin its QR codes carry: ``up`` and ``pair`` read them alike."""
    parser.add_argument("--host", default=None, help=f"listen address (default {DEFAULT_HOST}; 0.0.0.0 with --lan)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--lan", action="store_true", help="HTTPS with a self-signed certificate for phones on the LAN"
    )
    parser.add_argument("--base-url", default="", help="public origin viewers use, encoded in QR codes")


def _add_pair_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``farmlive pair``: a new single-use pairing QR for the farmer's phone, no studio key in it."""
    pair = commands.add_parser(
        "pair",
        help="print a new pairing QR for the phone (single use, 10 minutes); "
        "give the same --lan/--base-url/--port as farmlive up",
    )
    _add_data_dir(pair)
    _add_address(pair)
    _add_timezone(pair)


def _add_up_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``farmlive up``: the server, the control room and their network settings."""
    up = commands.add_parser("up", help="start the studio server and the control room")
    _add_data_dir(up)
    _add_address(up)
    up.add_argument("--no-ui", action="store_true", help="do not start the Streamlit control room")
    up.add_argument("--ui-port", type=int, default=8501, help="control room port (default 8501)")
    up.add_argument(
        "--ui-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another origin the control room is opened on (https://studio.example:443 behind a proxy); "
        "it may frame /watch and tap from the browser (else $FARMLIVE_UI_ORIGIN, comma-separated); repeatable",
    )
    up.add_argument("--key", default=None, help="studio key (else $FARMLIVE_KEY, else DATA_DIR/studio.key)")
    up.add_argument(
        "--ice-loopback-only",
        action="store_true",
        help="WebRTC on 127.0.0.1 only (tests, benchmarks); default: this computer's own addresses, or any with --lan",
    )
    _add_timezone(up)
    up.add_argument(
        "--no-auto-hold",
        dest="auto_hold",
        action="store_false",
        help="never switch to the hold slate by itself while the phone's uplink is unusable (default: it does)",
    )
    up.add_argument(
        "--max-connections-per-ip",
        type=int,
        default=MAX_CONNECTIONS_PER_IP,
        metavar="N",
        help=(
            f"open connections one client address may hold (default {MAX_CONNECTIONS_PER_IP}; 0 = no cap; "
            "loopback is exempt)"
        ),
    )
    up.add_argument(
        "--orders-per-ip",
        type=int,
        default=OrderLimits().per_ip.burst,
        metavar="N",
        help=f"orders one client address may place at once, then one every {OrderLimits().per_ip.every:g} s "
        f"(default {OrderLimits().per_ip.burst}; raise it when many buyers share one address)",
    )
    up.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN server for WebRTC (turn:host:3478 with --turn-secret; turn:user:pass@host:port "
        "is used by the studio only, never sent to browsers); repeatable",
    )
    up.add_argument(
        "--turn-secret",
        default=None,
        metavar="SECRET",
        help="coturn static-auth-secret (use-auth-secret): browsers get TURN credentials that expire in 4 h "
        "(else $FARMLIVE_TURN_SECRET)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="farmlive", description="One-phone livestream commerce studio."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    _add_up_command(commands)
    _add_pair_command(commands)

    cat = commands.add_parser("catalog", help="products: import, export, list")
    cat_commands = cat.add_subparsers(dest="catalog_command", required=True)
    for name, text in (
        ("import", "import or update products from a CSV file"),
        ("export", "write all products to a CSV file"),
    ):
        sub = cat_commands.add_parser(name, help=text)
        sub.add_argument("file", type=Path)
        _add_data_dir(sub)
        if name == "import":
            sub.add_argument("--dry-run", action="store_true", help="check the file and report, write nothing")
    listing = cat_commands.add_parser("list", help="print the catalog")
    _add_data_dir(listing)

    orders = commands.add_parser("orders", help="orders from other platforms")
    orders_commands = orders.add_subparsers(dest="orders_command", required=True)
    imp = orders_commands.add_parser("import", help="import a platform order export (CSV)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--timezone",
        default="Asia/Shanghai",
        help="time zone of order times written without an offset (default Asia/Shanghai, as Chinese exports are)",
    )
    imp.add_argument("--dry-run", action="store_true", help="check the file and report, write nothing")
    _add_data_dir(imp)

    report = commands.add_parser("report", help="write a show's analytics report")
    report.add_argument("show_id", type=int)
    report.add_argument("--out", type=Path, required=True, help="FILE.html, FILE.csv or FILE.xlsx")
    _add_timezone(report)
    _add_data_dir(report)

    comments = commands.add_parser("comments", help="the live room's comments")
    comments_commands = comments.add_subparsers(dest="comments_command", required=True)
    export = comments_commands.add_parser("export", help="write a show's comments to a CSV file")
    export.add_argument("show_id", type=int)
    export.add_argument("--out", type=Path, required=True, help="FILE.csv (UTF-8 with BOM, opens in Excel)")
    _add_data_dir(export)
    clips = commands.add_parser("clips", help="cut per-product clips of an ended show, ranked by sales")
    clips.add_argument("show_id", type=int)
    clips.add_argument("--out", type=Path, default=None, help="folder for the clips (default DATA_DIR/clips/show-ID)")
    clips.add_argument("--min-seconds", type=float, default=20.0, help="skip products on air shorter than this")
    clips.add_argument("--max-seconds", type=float, default=90.0, help="trim longer ones to their busiest stretch")
    _add_data_dir(clips)
    _add_destinations_parser(commands)

    sim = commands.add_parser("simulate", help="record a realistic synthetic show for demos and benchmarks")
    sim.add_argument("--viewers", type=int, default=500)
    sim.add_argument("--minutes", type=float, default=30)
    sim.add_argument("--seed", type=int, default=None)
    _add_data_dir(sim)
    return parser


def _add_destinations_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from catalog.destinations import PRESETS

    dest = commands.add_parser("destinations", help="platforms the live show is pushed to (RTMP/RTMPS)")
    dest_commands = dest.add_subparsers(dest="destinations_command", required=True)
    add = dest_commands.add_parser("add", help="add a destination (the stream key is read from a file or stdin)")
    add.add_argument("name")
    add.add_argument("url", help="the platform's push URL, rtmp://… or rtmps://…")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--key-file", type=Path, help="file holding the stream key (never on the command line)")
    source.add_argument("--key-stdin", action="store_true", help="read the stream key from standard input")
    add.add_argument("--preset", default="custom", help=f"one of {', '.join(PRESETS)} (default custom)")
    add.add_argument(
        "--own-qr",
        action="store_true",
        help="show this platform a QR code of its own, so its scans and sales are counted apart "
        "(one extra encode; see docs/scale-out.md)",
    )
    _add_data_dir(add)
    for name, text in (
        ("list", "list destinations (keys masked)"),
        ("remove", "remove a destination and its stored key"),
        ("enable", "push to this destination during live shows"),
        ("disable", "stop pushing to this destination"),
    ):
        sub = dest_commands.add_parser(name, help=text)
        if name != "list":
            sub.add_argument("name")
        _add_data_dir(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, OSError) as error:
        print(f"farmlive: error: {error}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    import catalog

    if args.command == "up":
        from studio.runner import run_from_args

        return run_from_args(args)
    if args.command == "pair":
        from studio.runner import pair_from_args

        return pair_from_args(args)

    db = catalog.open_db(args.data_dir)
    commands: dict[str, Callable[[argparse.Namespace, sqlite_utils.Database], int]] = {
        "catalog": _catalog_command,
        "orders": _orders_command,
        "report": _report_command,
        "comments": _comments_command,
        "clips": _clips_command,
        "destinations": _destinations_command,
        "simulate": _simulate_command,
    }
    if args.command not in commands:
        raise AssertionError(args.command)
    return commands[args.command](args, db)


def _orders_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    from analytics import import_orders_csv

    result = import_orders_csv(db, args.file, timezone_name=args.timezone, dry_run=args.dry_run)
    print(result.summary())
    return 0 if result.ok else 1


def _report_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    from analytics import write_report
    from catalog import display_timezone
    from catalog.shows import get_show

    zone = display_timezone(args.timezone)
    path = write_report(db, args.show_id, args.out, timezone_name=zone)
    print(f"wrote {path} (times in {zone})")
    if get_show(db, args.show_id).simulated:
        print(
            f"show {args.show_id} is simulated (模拟): the report says so, and its figures are never "
            "counted in a real show's or across shows / 模拟直播：数据不计入真实直播及汇总"
        )
    return 0


def _comments_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    from analytics.comments import export_comments_csv
    from catalog.shows import get_show

    get_show(db, args.show_id)  # an unknown show is an error, not an empty file
    count = export_comments_csv(db, args.show_id, args.out)
    print(f"exported {count} comments of show {args.show_id} to {args.out}")
    return 0


def _simulate_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    from analytics import simulate_show
    from analytics.simulate import SimulationRefused
    from catalog import parse_iso
    from catalog.shows import get_show

    try:
        show_id = simulate_show(db, viewers=args.viewers, minutes=args.minutes, seed=args.seed)
    except SimulationRefused as refused:
        print(f"not simulated: {refused}", file=sys.stderr)
        return 1
    show = get_show(db, show_id)
    minutes = (parse_iso(show.ended_at or show.started_at) - parse_iso(show.started_at)).total_seconds() / 60
    shorter = "" if minutes >= args.minutes - 0.01 else " (shorter than asked: it never overlaps an earlier show)"
    print(f"simulated show {show_id}: {args.viewers} viewers over {minutes:g} minutes{shorter}")
    print("marked simulated / 已标记为模拟: left out of real shows' figures and cross-show totals")
    print(f"report: farmlive report {show_id} --out show-{show_id}.html --data-dir {args.data_dir}")
    return 0


def _clips_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    from studio.clips import ClipsRefused, make_clips

    try:
        result = make_clips(
            db, args.data_dir, args.show_id, args.out, min_s=args.min_seconds, max_s=args.max_seconds
        )
    except ClipsRefused as refused:
        print(f"farmlive clips: {refused.bilingual()}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def _catalog_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    import catalog
    from catalog.csvio import export_csv, format_catalog, import_csv

    if args.catalog_command == "import":
        result = import_csv(db, args.file, dry_run=args.dry_run)
        print(result.summary())
        return 0 if result.ok else 1
    if args.catalog_command == "export":
        count = export_csv(db, args.file)
        print(f"exported {count} products to {args.file}")
        return 0
    print(format_catalog(catalog.list_products(db)))
    return 0


def _destinations_command(args: argparse.Namespace, db: sqlite_utils.Database) -> int:
    from catalog import destinations as dest

    command = args.destinations_command
    if command == "add":
        key = sys.stdin.read() if args.key_stdin else args.key_file.read_text(encoding="utf-8")
        new = dest.parse_destination(args.name, args.url, key, args.preset, args.own_qr)
        added = dest.add_destination(db, args.data_dir, new)
        print(f"added {added.name} ({added.label}) {added.url} key {added.masked_key}")
        return 0
    if command == "list":
        rows = dest.list_destinations(db)
        for row in rows:
            flags = ("enabled" if row.enabled else "disabled") + (", own QR" if row.own_qr else "")
            print(f"{row.name}\t{row.label}\t{row.url}\t{row.masked_key}\t{flags}")
        if not rows:
            print("no destinations: farmlive destinations add NAME rtmp://… --key-file FILE")
        return 0
    if command == "remove":
        dest.remove_destination(db, args.data_dir, args.name)
        print(f"removed {args.name}")
        return 0
    changed = dest.set_enabled(db, args.name, command == "enable")
    print(f"{changed.name}: {'enabled' if changed.enabled else 'disabled'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
