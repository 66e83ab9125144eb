#!/usr/bin/python3
"""A seeder on 127.0.0.1, for tests that fetch metadata or data from a real peer.

Writes random files into DIR, makes a v1, v2-only or hybrid torrent of them with
libtorrent, seeds it with --client (on 127.0.0.1; DHT, LSD, PeX, UPnP, NAT-PMP and uTP
off; it announces to --tracker if given, to none otherwise), and once it is seeding
prints one JSON line to stdout:

    {"port": 40123, "v1": "<40 hex>"|null, "v2": "<64 hex>"|null,
     "torrent": "DIR/NAME.torrent", "name": "NAME"}

With --torrent FILE it makes nothing: it seeds that torrent from the data already in
DIR (the client checks it first, and fails unless all of it is there), announcing to
--tracker instead of the torrent's own trackers if given (libtorrent only), and prints
the same line ("torrent" is FILE, "name" the torrent's name).

Then it seeds until stdin is closed (the test dropped its end) or --timeout passes.
A line "announce" on stdin makes it announce now (its totals so far) and print one
line once the tracker answered: {"announced": true|false, "uploaded": <payload bytes>}.
Progress and errors go to stderr; exit status 1 on failure.

Usage:
    libtorrent_seed.py --dir DIR [--kind v1|v2|hybrid] [--files N] [--name NAME]
        [--timeout 120] [--tracker URL] [--client libtorrent|transmission|aria2]
    libtorrent_seed.py --dir DIR --torrent FILE [--timeout 120] [--tracker URL]
        [--client libtorrent|transmission|aria2]

Clients (the last two are v1 only: aria2 1.36 and Transmission 3.00 know no v2):
  libtorrent    a session in this process, port 0 (the OS picks).
  transmission  `transmission-cli` (3.00) with the swarm script's settings.json but no
                seed ratio limit, on a free port, told to verify the data in place; ready
                once it says it is seeding.
  aria2         `aria2c -V --seed-ratio=0.0` (check the data, then seed for ever) bound
                to 127.0.0.1 on a free port; ready once its log says the data checked
                out. For a udp:// tracker its DHT is on with an empty routing
                table (aria2 sends UDP-tracker packets through its DHT socket).
Both are stopped with SIGINT when stdin closes (SIGKILL 5 s later).

--files N makes a directory torrent of N small files in nested folders (N = 0, the
default, makes a single 64 KiB file), so large N gives an info dict of several 16 KiB
metadata pieces.
"""

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Exits with an error when python3-libtorrent is missing.
from libtorrent_swarm import (  # noqa: E402
    add_params, find_program, free_port, lt, make_session, read_text,
    transmission_settings)


def log(msg):
    sys.stderr.write("[seed] %s\n" % msg)
    sys.stderr.flush()


def make_payload(root, name, files, paths=None, size_kib=64):
    if paths:
        # Files at these paths (relative, "/"-separated) under a folder NAME.
        top = os.path.join(root, name)
        for i, rel in enumerate(paths):
            path = os.path.join(top, *rel.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(os.urandom(1000 + i))
        return top
    if files == 0:
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size_kib * 1024))
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


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start_transmission(a, torrent_path, out_path):
    """transmission-cli seeding TORRENT_PATH from the data in a.dir; returns the
    process, its peer port and a function saying whether it seeds."""
    exe = find_program("transmission-cli", "transmission-cli")
    cfg_dir = os.path.join(a.dir, "transmission")
    os.makedirs(cfg_dir, exist_ok=True)
    port = free_port()
    settings = transmission_settings(port, a.dir)
    # Seed for ever (the swarm script's leecher stops at ratio 0).
    settings.update({"ratio-limit-enabled": False})
    with open(os.path.join(cfg_dir, "settings.json"), "w") as f:
        json.dump(settings, f, indent=1)
    cmd = [exe, "--config-dir", cfg_dir, "--download-dir", a.dir, "--verify",
           torrent_path]
    log("starting: %s" % " ".join(cmd))
    out = open(out_path, "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT)
    # Its status line (every 200 ms) starts with "Seeding" once verified; it listens
    # from the start. (No probe connection: Transmission closes an incoming connection
    # while another one from the same address is still in its handshake, and a probe
    # that connects and closes stays there for seconds.)
    return proc, port, lambda: "Seeding" in read_text(out_path)


def start_aria2(a, torrent_path, out_path):
    """aria2c checking the data in a.dir and seeding it for ever."""
    exe = find_program("aria2c", "aria2")
    port = free_port()
    log_path = out_path + ".log"
    cmd = [
        exe,
        "--no-conf=true",
        "--dir=" + a.dir,
        "--interface=127.0.0.1",
        "--disable-ipv6=true",
        "--listen-port=%d" % port,
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--enable-dht6=false",
        "--check-integrity=true",
        "--seed-ratio=0.0",
        "--bt-tracker-connect-timeout=10",
        "--bt-tracker-timeout=10",
        "--file-allocation=none",
        "--summary-interval=0",
        "--console-log-level=warn",
        "--log=" + log_path,
        "--log-level=info",
    ]
    trackers = [t.url for t in lt.torrent_info(torrent_path).trackers()]
    if any(t.startswith("udp://") for t in trackers):
        # As in libtorrent_swarm.py: UDP trackers only through the DHT socket; a
        # fresh routing table with no entry point finds nobody.
        cmd += ["--enable-dht=true",
                "--dht-file-path=" + os.path.join(a.dir, "aria2-dht.dat"),
                "--dht-listen-port=%d" % free_port()]
    else:
        cmd += ["--enable-dht=false"]
    cmd.append(torrent_path)
    log("starting: %s" % " ".join(cmd))
    out = open(out_path, "wb")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT)
    return proc, port, lambda: ("Verification finished successfully" in read_text(
        log_path) and port_open(port))


CLIENTS = {"transmission": start_transmission, "aria2": start_aria2}


def seed_with(a, torrent_path, ti):
    """Seeds with an outside client until stdin closes or --timeout passes."""
    out_path = os.path.join(a.dir, a.client + ".out")
    proc, port, seeding = CLIENTS[a.client](a, torrent_path, out_path)
    try:
        deadline = time.monotonic() + 30
        while not seeding():
            if proc.poll() is not None or time.monotonic() > deadline:
                log("ERROR: %s %s; its output:\n%s" % (
                    a.client, "exited" if proc.poll() is not None
                    else "not seeding after 30 s", read_text(out_path)[-3000:]))
                sys.exit(1)
            time.sleep(0.1)
        ih = ti.info_hashes()
        print(json.dumps({
            "port": port,
            "v1": str(ih.v1) if ih.has_v1() else None,
            "v2": str(ih.v2) if ih.has_v2() else None,
            "torrent": torrent_path,
            "name": a.name,
        }), flush=True)
        log("%s seeding %s on 127.0.0.1:%d" % (a.client, a.name, port))
        end = time.monotonic() + a.timeout
        while time.monotonic() < end and proc.poll() is None:
            ready, _, _ = select.select([sys.stdin], [], [], 0.5)
            if ready and not sys.stdin.buffer.read1(4096):
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--kind", choices=["v1", "v2", "hybrid"], default="v1")
    p.add_argument("--files", type=int, default=0)
    p.add_argument("--size-kib", type=int, default=64,
                   help="size of the single file made when --files is 0")
    p.add_argument("--paths", help="JSON list of file paths (relative, '/'-separated) "
                   "to make instead of --files: a folder torrent of exactly these")
    p.add_argument("--name", default="seeded payload")
    p.add_argument("--torrent", help="seed this torrent from the data in --dir instead "
                   "of making one (the options above are then ignored)")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--tracker", help="announce to this tracker (default: none; with "
                   "--torrent, the torrent's own trackers)")
    p.add_argument("--client", choices=["libtorrent"] + sorted(CLIENTS),
                   default="libtorrent")
    a = p.parse_args()
    if a.torrent:
        if a.tracker and a.client != "libtorrent":
            p.error("--client %s announces to the torrent's own trackers: no --tracker"
                    % a.client)
        torrent_path = a.torrent
        ti = lt.torrent_info(torrent_path)
        a.name = ti.name()
    else:
        if a.client != "libtorrent" and a.kind != "v1":
            p.error("--client %s seeds v1 torrents only" % a.client)
        payload = make_payload(a.dir, a.name, a.files,
                               json.loads(a.paths) if a.paths else None, a.size_kib)
        torrent_path = os.path.join(a.dir, a.name + ".torrent")
        make_torrent(payload, a.kind, torrent_path, a.tracker)
        ti = lt.torrent_info(torrent_path)
    if a.client != "libtorrent":
        return seed_with(a, torrent_path, ti)

    # The swarm test's session (loopback, port 0, no DHT/LSD/UPnP/NAT-PMP/uTP) and
    # torrent flags (started, no peer sources).
    ses = make_session()
    atp = add_params(torrent_path, a.dir)
    if a.torrent and a.tracker:
        # Added paused, so nothing is announced to the torrent's own trackers (another
        # account's passkey, say) before they are replaced.
        atp.flags |= lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    if a.torrent and a.tracker:
        h.replace_trackers([lt.announce_entry(a.tracker)])
        h.resume()

    deadline = time.monotonic() + 30
    while not h.status().is_seeding:
        for alert in ses.pop_alerts():
            log(alert.message())
        if time.monotonic() > deadline:
            # Below 100 % with --torrent: the data in --dir is not all there.
            st = h.status()
            log("ERROR: not seeding after 30 s: %s, %.1f%%" % (
                st.state, st.progress * 100))
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
    kind = "hybrid" if ih.has_v1() and ih.has_v2() else "v1" if ih.has_v1() else "v2"
    log("seeding %s (%s) on 127.0.0.1:%d, info dict %d bytes" % (
        a.name, kind, ses.listen_port(), len(lt.bencode(lt.bdecode(
            open(torrent_path, "rb").read())[b"info"]))))

    end = time.monotonic() + a.timeout
    announcing = False
    while time.monotonic() < end:
        ready, _, _ = select.select([sys.stdin], [], [], 0.2)
        if ready:
            said = sys.stdin.buffer.read1(4096)
            if not said:
                break
            if b"announce" in said:
                # Tells the tracker the session's totals now; answered with one line.
                h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
                announcing = True
        for alert in ses.pop_alerts():
            log(alert.message())
            if announcing and isinstance(
                    alert, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                announcing = False
                ok = isinstance(alert, lt.tracker_reply_alert)
                print(json.dumps({"announced": ok,
                                  "uploaded": h.status().total_payload_upload}),
                      flush=True)
    stop_gracefully(ses, h)


def stop_gracefully(ses, h):
    """Pauses the torrent so libtorrent sends its `stopped` announce (with the session's
    final totals, which private trackers credit), and waits a little for the reply."""
    st = h.status()
    log("stopping: uploaded %d, downloaded %d payload bytes" % (
        st.total_payload_upload, st.total_payload_download))
    h.pause()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for alert in ses.pop_alerts():
            log(alert.message())
            if isinstance(alert, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                return
        time.sleep(0.05)


if __name__ == "__main__":
    main()
