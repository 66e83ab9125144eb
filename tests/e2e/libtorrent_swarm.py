#!/usr/bin/python3
"""End-to-end swarm test: two real libtorrent clients meet via one tracker.

A seeder session (in this process) creates a random file, builds a torrent
whose only announce URL is the given tracker, announces to it, and then a
leecher session (in a child process, because libtorrent shares one UDP
tracker connection id between the sessions of a process) downloads the file.
DHT, LSD, PeX, UPnP, NAT-PMP and uTP are all off, so the only way for the
leecher to learn about the seeder is the tracker. The downloaded file's
SHA-256 is compared with the original.

Usage:
    libtorrent_swarm.py --tracker udp://127.0.0.1:PORT/announce \
        [--size-mib 4] [--hybrid] [--timeout 90]

Exit status 0 on success, 1 on failure (with an "ERROR:" line on stderr).
Progress goes to stderr. Needs python3-libtorrent (libtorrent 2.0.x), which
on Debian is only importable from /usr/bin/python3.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import libtorrent as lt
except ImportError as exc:  # pragma: no cover - environment problem
    sys.stderr.write(
        "ERROR: cannot import libtorrent (%s); install python3-libtorrent "
        "and run with /usr/bin/python3\n" % exc
    )
    sys.exit(1)


ROLE = "seeder"


def log(msg):
    sys.stderr.write("[%s %6.2fs] %s\n" % (ROLE, time.monotonic() - T0, msg))
    sys.stderr.flush()


T0 = time.monotonic()


class Failure(Exception):
    pass


def session_settings():
    """Settings for a session that may only learn peers from the tracker and
    must work entirely on 127.0.0.1."""
    cat = lt.alert.category_t
    return {
        # Bind only loopback; port 0 = let the OS choose a free port.
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "",
        # No peer sources other than the tracker.
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # TCP only (uTP would also bring in its own UDP socket logic).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        # Both peers are 127.0.0.1: without this the second connection
        # from/to the same IP is refused.
        "allow_multiple_connections_per_ip": True,
        # Don't react to host network changes (re-opening listen sockets
        # mid-test).
        "enable_ip_notifier": False,
        # Announce to every tracker/tier (there is just one, but be explicit).
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        # Shut down quickly: don't wait long for the "stopped" announce.
        "stop_tracker_timeout": 2,
        # Speed up: connect right away, retry quickly.
        "min_reconnect_time": 1,
        "connection_speed": 100,
        "alert_mask": (
            cat.error_notification
            | cat.status_notification
            | cat.tracker_notification
            | cat.storage_notification
            | cat.connect_notification
            | cat.ip_block_notification
        ),
    }


def make_session():
    settings = session_settings()
    settings.update(json.loads(os.environ.get("XX_LT_OVERRIDE", "{}")))
    ses = lt.session(settings)
    # Fail early if the listen socket could not be opened.
    deadline = time.monotonic() + 10
    while ses.listen_port() == 0:
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                raise Failure("listen failed: %s" % a.message())
        if time.monotonic() > deadline:
            raise Failure("session did not open a listen socket on 127.0.0.1")
        time.sleep(0.05)
    return ses


def add_params(torrent_path, save_path):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent_path)
    atp.save_path = save_path
    flags = atp.flags
    # A torrent added from Python stays paused unless both flags are cleared.
    flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    # Belt and braces: no per-torrent peer sources besides the tracker.
    flags |= (
        lt.torrent_flags.disable_dht
        | lt.torrent_flags.disable_lsd
        | lt.torrent_flags.disable_pex
    )
    atp.flags = flags
    return atp


def version_name(alert):
    try:
        return "v2" if alert.version == lt.protocol_version.V2 else "v1"
    except Exception:
        return "?"


def endpoint_str(ep):
    return "%s:%d" % (ep[0], ep[1])


def handle_tracker_alert(a, replies, state):
    """Log tracker-related alerts. Record successful replies per protocol
    version in `replies` (dict version -> num_peers)."""
    if isinstance(a, lt.tracker_reply_alert):
        v = version_name(a)
        replies[v] = max(replies.get(v, 0), a.num_peers)
        log("tracker reply (%s): %d peer(s) from %s" % (v, a.num_peers, a.tracker_url()))
    elif isinstance(a, lt.tracker_error_alert):
        msg = "tracker error (%s) from %s: %s" % (version_name(a), a.tracker_url(), a.message())
        state["last_tracker_error"] = msg
        log(msg)
    elif isinstance(a, lt.tracker_warning_alert):
        log("tracker warning: %s" % a.message())
    elif isinstance(a, lt.scrape_failed_alert):
        log("scrape failed: %s" % a.message())
    elif isinstance(a, (lt.tracker_announce_alert,)):
        log("announcing: %s" % a.message())
    elif isinstance(a, lt.peer_blocked_alert):
        # e.g. loopback/privileged-port/SSRF filtering -- the usual reason
        # why tracker-supplied 127.0.0.1 peers are never contacted.
        log("peer BLOCKED: %s" % a.message())
    elif isinstance(a, lt.peer_connect_alert):
        state.setdefault("outgoing", set()).add(endpoint_str(a.endpoint))
        log("connecting to peer %s" % endpoint_str(a.endpoint))
    elif isinstance(a, lt.incoming_connection_alert):
        log("incoming connection from %s" % endpoint_str(a.endpoint))
    elif isinstance(a, lt.peer_disconnected_alert):
        log("peer %s disconnected: %s" % (endpoint_str(a.endpoint), a.error.message()))
    elif isinstance(a, (lt.torrent_error_alert, lt.file_error_alert,
                        lt.listen_failed_alert)):
        state["last_error"] = a.message()
        log("error: %s" % a.message())
    elif a.category() & lt.alert.category_t.error_notification:
        log("error alert: %s" % a.message())


# --------------------------------------------------------------------------
# leecher (child process)
# --------------------------------------------------------------------------

def run_leecher(args):
    deadline = time.monotonic() + args.timeout
    ses = make_session()
    log("listening on 127.0.0.1:%d" % ses.listen_port())
    h = ses.add_torrent(add_params(args.torrent, args.save_dir))
    replies = {}
    state = {}
    tracker_peer_ips = set()
    other_source_peers = set()
    last_progress = 0.0
    finished = False
    try:
        while time.monotonic() < deadline:
            for a in ses.pop_alerts():
                handle_tracker_alert(a, replies, state)
                if isinstance(a, lt.torrent_finished_alert):
                    finished = True
            for p in h.get_peer_info():
                ep = endpoint_str(p.ip)
                if p.source & lt.peer_info.tracker:
                    tracker_peer_ips.add(ep)
                if p.source & (lt.peer_info.dht | lt.peer_info.pex | lt.peer_info.lsd):
                    other_source_peers.add(ep)
            st = h.status()
            if st.errc.value() != 0:
                raise Failure("torrent error: %s" % st.errc.message())
            now = time.monotonic()
            if now - last_progress >= 1.0:
                last_progress = now
                log("%s %5.1f%% peers=%d down=%.1f KiB/s" % (
                    st.state, st.progress * 100, st.num_peers,
                    st.download_payload_rate / 1024.0))
            if finished or st.is_seeding:
                break
            time.sleep(0.1)
        else:
            err = state.get("last_tracker_error") or state.get("last_error")
            raise Failure(
                "leecher timed out; progress %.1f%%, tracker replies %s%s" % (
                    h.status().progress * 100, replies or "none",
                    ("; last error: " + err) if err else ""))
        st = h.status()
        log("download complete: %d bytes, peers from tracker: %s, "
            "connected to: %s" % (
                st.total_wanted_done, replies,
                sorted(state.get("outgoing", ()))))
        result = {
            "ok": True,
            "tracker_replies": replies,
            "max_peers_from_tracker": max(replies.values()) if replies else 0,
            "tracker_peer_endpoints": sorted(tracker_peer_ips),
            "other_source_peers": sorted(other_source_peers),
            "outgoing_connections": sorted(state.get("outgoing", ())),
        }
    finally:
        ses.remove_torrent(h)
        ses.pause()
        del ses
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------
# seeder / driver (parent process)
# --------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_payload(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def make_torrent(payload, torrent_path, tracker, hybrid):
    fs = lt.file_storage()
    lt.add_files(fs, payload)
    flags = 0 if hybrid else lt.create_torrent.v1_only
    ct = lt.create_torrent(fs, 0, flags)
    ct.add_tracker(tracker, 0)
    ct.set_creator("shoal e2e libtorrent_swarm.py")
    lt.set_piece_hashes(ct, os.path.dirname(payload))
    with open(torrent_path, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(torrent_path)
    ih = ti.info_hashes()
    trackers = [t.url for t in ti.trackers()]
    if trackers != [tracker]:
        raise Failure("torrent trackers %r != [%r]" % (trackers, tracker))
    log("torrent: %s, %d pieces of %d KiB, v1=%s v2=%s" % (
        "hybrid v1+v2" if hybrid else "v1-only", ti.num_pieces(),
        ti.piece_length() // 1024,
        ih.v1 if ih.has_v1() else "-", ih.v2 if ih.has_v2() else "-"))
    return ti


def run_seeder(args):
    deadline = time.monotonic() + args.timeout
    tmp = tempfile.mkdtemp(prefix="shoal-lt-swarm-")
    leecher = None
    ses = None
    try:
        seed_dir = os.path.join(tmp, "seed")
        leech_dir = os.path.join(tmp, "leech")
        os.makedirs(seed_dir)
        os.makedirs(leech_dir)
        name = "payload-%d.bin" % os.getpid()
        payload = os.path.join(seed_dir, name)
        size = int(args.size_mib * 1024 * 1024)
        digest = make_payload(payload, size)
        log("payload %s: %d bytes, sha256 %s" % (name, size, digest))
        torrent_path = os.path.join(tmp, "swarm.torrent")
        make_torrent(payload, torrent_path, args.tracker, args.hybrid)

        ses = make_session()
        log("listening on 127.0.0.1:%d" % ses.listen_port())
        h = ses.add_torrent(add_params(torrent_path, seed_dir))
        wanted = {"v1", "v2"} if args.hybrid else {"v1"}
        replies = {}
        state = {}
        last_note = 0.0
        # Wait until the seeder has been announced for every info-hash.
        while not wanted <= set(replies):
            for a in ses.pop_alerts():
                handle_tracker_alert(a, replies, state)
            st = h.status()
            if st.errc.value() != 0:
                raise Failure("seeder torrent error: %s" % st.errc.message())
            now = time.monotonic()
            if now > deadline:
                err = state.get("last_tracker_error")
                raise Failure("seeder never announced successfully to %s "
                              "(got replies for %s)%s" % (
                                  args.tracker, sorted(replies) or "none",
                                  ("; last error: " + err) if err else ""))
            if now - last_note >= 2.0:
                last_note = now
                log("waiting for announce; state=%s seeding=%s" % (st.state, st.is_seeding))
            time.sleep(0.05)
        if not h.status().is_seeding:
            raise Failure("seeder is not seeding after announce (state %s)" % h.status().state)
        log("seeder announced; starting leecher")

        remaining = max(1.0, deadline - time.monotonic())
        cmd = [sys.executable, os.path.abspath(__file__), "--role", "leecher",
               "--tracker", args.tracker, "--torrent", torrent_path,
               "--save-dir", leech_dir, "--timeout", "%.1f" % remaining]
        leecher = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        uploaded_logged = 0.0
        while leecher.poll() is None:
            for a in ses.pop_alerts():
                handle_tracker_alert(a, replies, state)
            now = time.monotonic()
            if now > deadline + 10:
                raise Failure("leecher process did not finish in time")
            if now - uploaded_logged >= 2.0:
                uploaded_logged = now
                st = h.status()
                log("seeding: peers=%d up=%.1f KiB/s uploaded=%d" % (
                    st.num_peers, st.upload_payload_rate / 1024.0,
                    st.total_payload_upload))
            time.sleep(0.1)
        out = leecher.stdout.read().decode("utf-8", "replace")
        rc = leecher.returncode
        leecher = None
        if rc != 0:
            raise Failure("leecher failed (exit %d)" % rc)
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failure("leecher printed no result: %r" % out)

        got = os.path.join(leech_dir, name)
        if not os.path.exists(got):
            raise Failure("downloaded file missing: %s" % got)
        got_digest = sha256_file(got)
        if got_digest != digest:
            raise Failure("SHA-256 mismatch: got %s want %s" % (got_digest, digest))
        log("downloaded file SHA-256 matches (%s)" % got_digest)

        npeers = result.get("max_peers_from_tracker", 0)
        log("leecher got %d peer(s) from the tracker (replies per info-hash "
            "version: %s; tracker-sourced connections: %s)" % (
                npeers, result.get("tracker_replies"),
                result.get("tracker_peer_endpoints")))
        if npeers < 1:
            raise Failure("leecher finished but tracker reported 0 peers?!")
        if result.get("other_source_peers"):
            raise Failure("leecher had peers from non-tracker sources: %s"
                          % result["other_source_peers"])
        # The seeder cannot know the leecher before its next re-announce
        # (minutes away), so the transfer must have happened over a
        # connection the leecher opened to the endpoint the tracker gave it.
        seed_ep = "127.0.0.1:%d" % ses.listen_port()
        if seed_ep not in result.get("outgoing_connections", []):
            raise Failure("leecher never connected to the seeder at %s "
                          "(outgoing connections: %s)" % (
                              seed_ep, result.get("outgoing_connections")))
        log("PASS (%s, %.1f MiB) in %.1fs" % (
            "hybrid" if args.hybrid else "v1-only", args.size_mib,
            time.monotonic() - T0))
        return 0
    finally:
        if leecher is not None and leecher.poll() is None:
            leecher.kill()
            leecher.wait()
        if ses is not None:
            ses.pause()
            del ses
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    global ROLE
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracker", required=True,
                   help="announce URL, e.g. udp://127.0.0.1:6969/announce")
    p.add_argument("--size-mib", type=float, default=4.0,
                   help="payload size in MiB (default 4)")
    p.add_argument("--hybrid", action="store_true",
                   help="make a v1+v2 hybrid torrent (default: v1-only)")
    p.add_argument("--timeout", type=float, default=90.0,
                   help="overall timeout in seconds (default 90)")
    p.add_argument("--role", choices=["seeder", "leecher"], default="seeder",
                   help=argparse.SUPPRESS)
    p.add_argument("--torrent", help=argparse.SUPPRESS)
    p.add_argument("--save-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    ROLE = args.role
    if args.size_mib <= 0:
        p.error("--size-mib must be positive")
    try:
        if args.role == "leecher":
            if not args.torrent or not args.save_dir:
                p.error("--role leecher needs --torrent and --save-dir")
            return run_leecher(args)
        return run_seeder(args)
    except Failure as exc:
        log("ERROR: %s" % exc)
        return 1
    except KeyboardInterrupt:
        log("ERROR: interrupted")
        return 1


if __name__ == "__main__":
    sys.exit(main())
