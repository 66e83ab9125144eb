#!/usr/bin/python3
"""Seeds many small torrents from one libtorrent session on 127.0.0.1, each announcing
to one tracker, for the catalog benchmark (bench/catalog.sh).

Makes COUNT torrents of one random 16 KiB file each (v1, or --kind), adds them in turn
to SESSIONS sessions (each its own peer on 127.0.0.1; loopback, no DHT/LSD/UPnP/NAT-PMP/
uTP: the tests' settings), and prints
one JSON line per torrent as it is added: {"v1": hex, "added": unix seconds (float)}.
Seeds until stdin is closed or --timeout passes. Progress goes to stderr.
"""

import argparse
import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "e2e"))
from libtorrent_swarm import add_params, lt, make_session  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--tracker", required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--kind", choices=["v1", "hybrid"], default="v1")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--sessions", type=int, default=1)
    a = p.parse_args()

    sessions = [make_session() for _ in range(max(1, a.sessions))]
    for ses in sessions:
        ses.apply_settings({"active_seeds": a.count + 10, "active_limit": a.count + 10,
                            "max_concurrent_http_announces": a.count + 10})
    torrents = []
    for i in range(a.count):
        name = "catalog bench %05d.bin" % i
        path = os.path.join(a.dir, name)
        with open(path, "wb") as f:
            f.write(os.urandom(16 * 1024))
        fs = lt.file_storage()
        lt.add_files(fs, path)
        flags = lt.create_torrent.v1_only if a.kind == "v1" else 0
        ct = lt.create_torrent(fs, 0, flags)
        ct.add_tracker(a.tracker)
        lt.set_piece_hashes(ct, a.dir)
        tpath = path + ".torrent"
        with open(tpath, "wb") as f:
            f.write(lt.bencode(ct.generate()))
        torrents.append(tpath)
    sys.stderr.write("[seed] %d torrents made; adding\n" % a.count)
    for i, tpath in enumerate(torrents):
        ti = lt.torrent_info(tpath)
        sessions[i % len(sessions)].add_torrent(add_params(tpath, a.dir))
        print(json.dumps({"v1": str(ti.info_hashes().v1), "added": time.time()}),
              flush=True)
    end = time.monotonic() + a.timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([sys.stdin], [], [], 0.5)
        if ready and not sys.stdin.buffer.read1(4096):
            break
        for ses in sessions:
            ses.pop_alerts()


if __name__ == "__main__":
    main()
