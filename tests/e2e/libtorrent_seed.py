#!/usr/bin/python3
"""A libtorrent seeder on 127.0.0.1, for tests that fetch metadata from a real peer.

Writes random files into DIR, makes a v1, v2-only or hybrid torrent of them, seeds it
from a libtorrent session listening on 127.0.0.1 (port 0: the OS picks; DHT, LSD,
UPnP, NAT-PMP and uTP off; it announces to --tracker if given, to none otherwise), and
once it is seeding prints one JSON line to
stdout:

    {"port": 40123, "v1": "<40 hex>"|null, "v2": "<64 hex>"|null,
     "torrent": "DIR/NAME.torrent", "name": "NAME"}

Then it seeds until stdin is closed (the test dropped its end) or --timeout passes.
Progress and errors go to stderr; exit status 1 on failure.

Usage:
    libtorrent_seed.py --dir DIR [--kind v1|v2|hybrid] [--files N] [--name NAME]
        [--timeout 120] [--tracker URL]

--files N makes a directory torrent of N small files in nested folders (N = 0, the
default, makes a single 64 KiB file), so large N gives an info dict of several 16 KiB
metadata pieces.
"""

import argparse
import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Exits with an error when python3-libtorrent is missing.
from libtorrent_swarm import add_params, lt, make_session  # noqa: E402


def log(msg):
    sys.stderr.write("[seed] %s\n" % msg)
    sys.stderr.flush()


def make_payload(root, name, files):
    if files == 0:
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            f.write(os.urandom(64 * 1024))
        return path
    top = os.path.join(root, name)
    for i in range(files):
        d = os.path.join(top, "folder %d" % (i % 7), "sub %d" % (i % 3))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "file %05d.bin" % i), "wb") as f:
            f.write(os.urandom(100 + i))
    return top


def make_torrent(payload, kind, torrent_path, tracker=None):
    fs = lt.file_storage()
    lt.add_files(fs, payload)
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only,
             "hybrid": 0}[kind]
    ct = lt.create_torrent(fs, 0, flags)
    ct.set_creator("shoal tests/e2e/libtorrent_seed.py")
    if tracker:
        ct.add_tracker(tracker)
    lt.set_piece_hashes(ct, os.path.dirname(payload))
    with open(torrent_path, "wb") as f:
        f.write(lt.bencode(ct.generate()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--kind", choices=["v1", "v2", "hybrid"], default="v1")
    p.add_argument("--files", type=int, default=0)
    p.add_argument("--name", default="seeded payload")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--tracker", help="announce to this tracker (default: none)")
    a = p.parse_args()

    payload = make_payload(a.dir, a.name, a.files)
    torrent_path = os.path.join(a.dir, a.name + ".torrent")
    make_torrent(payload, a.kind, torrent_path, a.tracker)
    ti = lt.torrent_info(torrent_path)

    # The swarm test's session (loopback, port 0, no DHT/LSD/UPnP/NAT-PMP/uTP) and
    # torrent flags (started, no peer sources).
    ses = make_session()
    h = ses.add_torrent(add_params(torrent_path, a.dir))

    deadline = time.monotonic() + 30
    while not h.status().is_seeding:
        for alert in ses.pop_alerts():
            log(alert.message())
        if time.monotonic() > deadline:
            log("ERROR: not seeding after 30 s: %s" % h.status().state)
            sys.exit(1)
        time.sleep(0.05)

    ih = ti.info_hashes()
    print(json.dumps({
        "port": ses.listen_port(),
        "v1": str(ih.v1) if ih.has_v1() else None,
        "v2": str(ih.v2) if ih.has_v2() else None,
        "torrent": torrent_path,
        "name": a.name,
    }), flush=True)
    log("seeding %s (%s) on 127.0.0.1:%d, info dict %d bytes" % (
        a.name, a.kind, ses.listen_port(), len(lt.bencode(lt.bdecode(
            open(torrent_path, "rb").read())[b"info"]))))

    end = time.monotonic() + a.timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.buffer.read1(4096):
            break
        for alert in ses.pop_alerts():
            log(alert.message())


if __name__ == "__main__":
    main()
