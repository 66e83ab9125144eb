#!/usr/bin/python3
"""A libtorrent leecher on 127.0.0.1 for tests of private mode's accounting.

Adds TORRENT (paused), replaces its trackers with --tracker (a URL carrying this
leecher's passkey), downloads into --dir with DHT, LSD, PeX, UPnP, NAT-PMP and uTP off
(the tracker is the only way to find the seeder), then pauses the torrent so libtorrent
sends its `stopped` announce with the session's final totals, and prints one JSON line:

    {"downloaded": <payload bytes>, "uploaded": <payload bytes>,
     "piece_length": N, "size": N}

Exit status 1 when the download does not finish within --timeout seconds.

Usage:
    libtorrent_leech.py --torrent FILE --tracker URL --dir DIR [--timeout 60]
        [--rate-kib N]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Exits with an error when python3-libtorrent is missing.
from libtorrent_swarm import add_params, lt, make_session  # noqa: E402


def log(msg):
    sys.stderr.write("[leech] %s\n" % msg)
    sys.stderr.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--torrent", required=True)
    p.add_argument("--tracker", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--rate-kib", type=int, default=0,
                   help="download at most this many KiB/s (0: no limit)")
    a = p.parse_args()
    ses = make_session()
    atp = add_params(a.torrent, a.dir)
    # Added paused, so no announce reaches the torrent's own tracker (another account's
    # passkey) before the trackers are replaced.
    atp.flags |= lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    h.replace_trackers([lt.announce_entry(a.tracker)])
    if a.rate_kib:
        h.set_download_limit(a.rate_kib * 1024)
    h.resume()
    deadline = time.monotonic() + a.timeout
    while not h.status().is_seeding:
        for alert in ses.pop_alerts():
            log(alert.message())
        if time.monotonic() > deadline:
            st = h.status()
            log("ERROR: not done after %.0f s: %s, %.1f%%" % (
                a.timeout, st.state, st.progress * 100))
            return 1
        time.sleep(0.05)
    st = h.status()
    log("done: downloaded %d payload bytes" % st.total_payload_download)
    h.pause()
    stop_deadline = time.monotonic() + 5
    stopped = False
    while time.monotonic() < stop_deadline and not stopped:
        for alert in ses.pop_alerts():
            log(alert.message())
            if isinstance(alert, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                stopped = True
        time.sleep(0.05)
    ti = h.torrent_file()
    print(json.dumps({
        "downloaded": st.total_payload_download,
        "uploaded": st.total_payload_upload,
        "piece_length": ti.piece_length(),
        "size": ti.total_size(),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
