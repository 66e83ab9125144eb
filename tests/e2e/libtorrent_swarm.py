#!/usr/bin/python3
"""End-to-end swarm test: two real libtorrent clients meet via one tracker.

A seeder session (in this process) writes a random file, builds a torrent
whose only announce URL is the given tracker, and announces to it. Once the
tracker has acknowledged the seeder, a leecher session is started in a child
process (libtorrent shares one UDP-tracker connection id between the sessions
of a process, so they must not share one) and downloads the file. DHT, LSD,
PeX, UPnP, NAT-PMP and uTP are all off, so the tracker is the only way the
leecher can learn about the seeder. The downloaded file's SHA-256 must match
the original, and the leecher must have received >= 1 peer from the tracker
(for every info-hash it announced) and connected to the seeder's endpoint.

Usage:
    libtorrent_swarm.py --tracker udp://127.0.0.1:PORT/announce \\
        [--size-mib 4] [--hybrid] [--timeout 90]

By default the torrent is v1-only (one info-hash); --hybrid makes a v1+v2
hybrid torrent, for which libtorrent announces twice (SHA-1 info-hash and
the truncated SHA-256 info-hash).

Exit status 0 on success, 1 on failure (an "ERROR:" line on stderr says
why). Progress goes to stderr. Needs python3-libtorrent (libtorrent 2.0.x),
which on Debian is only importable from /usr/bin/python3.
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import libtorrent as lt
except ImportError as exc:  # environment problem, not a test failure per se
    sys.stderr.write(
        "ERROR: cannot import libtorrent (%s); install python3-libtorrent "
        "and run with /usr/bin/python3\n" % exc
    )
    sys.exit(1)


ROLE = "seeder"
# Wall-clock start of the whole run; the leecher inherits it via --t0 so
# that both processes' log lines share one time axis.
T0 = time.time()

# How long after a tracker error to force a re-announce (libtorrent's own
# retry back-off starts at ~15 s, too slow for a bounded test).
RETRY_AFTER_ERROR_S = 2.0


def log(msg):
    sys.stderr.write("[%-7s %6.2fs] %s\n" % (ROLE, time.time() - T0, msg))
    sys.stderr.flush()


class Failure(Exception):
    pass


def session_settings():
    """Settings for a session that must work entirely on 127.0.0.1 and may
    learn peers only from the tracker."""
    cat = lt.alert.category_t
    return {
        # Loopback only; port 0 = let the OS pick a free port (read back with
        # session.listen_port()). The UDP tracker socket uses the same port.
        "listen_interfaces": "127.0.0.1:0",
        # No peer sources other than the tracker, no port mapping.
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # TCP peer connections only.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        # Both peers have IP 127.0.0.1 (different ports). One seeder + one
        # leecher happened to work without it, but a second connection
        # between them (e.g. a simultaneous connect) would be refused.
        "allow_multiple_connections_per_ip": True,
        # With SSRF mitigation on (the default), libtorrent refuses HTTP(S)
        # tracker URLs on a loopback/local address unless the path is
        # exactly "/announce" ("blocked by SSRF mitigation"). Everything here
        # is on 127.0.0.1 by design, so turn it off to accept any path.
        "ssrf_mitigation": False,
        # Don't re-open listen sockets on host network changes mid-test.
        "enable_ip_notifier": False,
        # There is one tracker, but never skip it for another tier/entry.
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        # Don't block shutdown for long on the "stopped" announce.
        "stop_tracker_timeout": 2,
        # Reconnect quickly if the first peer connection attempt fails.
        "min_reconnect_time": 1,
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
    ses = lt.session(session_settings())
    deadline = time.monotonic() + 10
    while ses.listen_port() == 0:
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                raise Failure("listen failed: %s" % a.message())
        if time.monotonic() > deadline:
            raise Failure("session did not open a listen socket on 127.0.0.1")
        time.sleep(0.05)
    log("session listening on 127.0.0.1:%d" % ses.listen_port())
    return ses


def add_params(torrent_path, save_path):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent_path)
    atp.save_path = save_path
    flags = atp.flags
    # A torrent added from Python stays paused unless both flags are cleared.
    flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    # Belt and braces: no per-torrent peer sources besides the tracker.
    flags |= (lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
              | lt.torrent_flags.disable_pex)
    atp.flags = flags
    return atp


def version_name(alert):
    return "v2" if alert.version == lt.protocol_version.V2 else "v1"


def endpoint_str(ep):
    return "%s:%d" % (ep[0], ep[1])


class AlertLog(object):
    """Logs the interesting alerts and remembers what happened."""

    def __init__(self):
        self.replies = {}         # "v1"/"v2" -> max num_peers in any reply
        self.last_tracker_error = None
        self.last_error_time = None
        self.last_error = None
        self.peer_endpoints = set()   # remote endpoints of peer connections
        self.finished = False

    def pump(self, ses):
        for a in ses.pop_alerts():
            self.handle(a)

    def handle(self, a):
        if isinstance(a, lt.tracker_reply_alert):
            v = version_name(a)
            self.replies[v] = max(self.replies.get(v, 0), a.num_peers)
            log("tracker reply (%s): %d peer(s) from %s"
                % (v, a.num_peers, a.tracker_url()))
        elif isinstance(a, lt.tracker_error_alert):
            self.last_tracker_error = a.message()
            self.last_error_time = time.monotonic()
            log("TRACKER ERROR (%s): %s" % (version_name(a), a.message()))
        elif isinstance(a, lt.tracker_warning_alert):
            log("TRACKER WARNING: %s" % a.message())
        elif isinstance(a, lt.tracker_announce_alert):
            log("announce: %s" % a.message())
        elif isinstance(a, lt.scrape_failed_alert):
            log("scrape failed: %s" % a.message())
        elif isinstance(a, lt.peer_blocked_alert):
            # Local-network / privileged-port / IP-filter rules would show up
            # here if libtorrent refused a tracker-supplied loopback peer.
            log("PEER BLOCKED: %s" % a.message())
        elif isinstance(a, lt.peer_connect_alert):
            # Posted for incoming and outgoing connections alike; on the
            # leecher a remote port equal to the seeder's listen port means
            # the leecher dialled the seeder.
            self.peer_endpoints.add(endpoint_str(a.endpoint))
            log("peer connection with %s" % endpoint_str(a.endpoint))
        elif isinstance(a, lt.peer_disconnected_alert):
            log("peer %s disconnected: %s"
                % (endpoint_str(a.endpoint), a.error.message()))
        elif isinstance(a, lt.torrent_finished_alert):
            self.finished = True
        elif a.category() & lt.alert.category_t.error_notification:
            self.last_error = a.message()
            log("ERROR ALERT (%s): %s" % (a.what(), a.message()))

    def maybe_reannounce(self, handle):
        """After a tracker error, re-announce soon instead of waiting for
        libtorrent's back-off."""
        if (self.last_error_time is not None
                and time.monotonic() - self.last_error_time >= RETRY_AFTER_ERROR_S):
            self.last_error_time = None
            log("re-announcing after tracker error")
            handle.force_reannounce()


def check_torrent_error(h, who):
    st = h.status()
    if st.errc.value() != 0:
        raise Failure("%s torrent error: %s" % (who, st.errc.message()))
    return st


# --------------------------------------------------------------------------
# leecher (child process)
# --------------------------------------------------------------------------

def run_leecher(args):
    deadline = time.monotonic() + args.timeout
    ses = make_session()
    alerts = AlertLog()
    other_source_peers = set()
    h = ses.add_torrent(add_params(args.torrent, args.save_dir))
    versions = {"v1", "v2"} if h.torrent_file().info_hashes().has_v2() else {"v1"}
    if not h.torrent_file().info_hashes().has_v1():
        versions.discard("v1")
    try:
        last_progress = 0.0
        done_at = None
        while True:
            alerts.pump(ses)
            if not alerts.replies:
                alerts.maybe_reannounce(h)
            for p in h.get_peer_info():
                if p.source & (lt.peer_info.dht | lt.peer_info.pex | lt.peer_info.lsd):
                    other_source_peers.add(endpoint_str(p.ip))
            st = check_torrent_error(h, "leecher")
            now = time.monotonic()
            if alerts.finished or st.is_seeding:
                # Linger (at most 5 s) until every info-hash's announce has
                # been answered, so the per-version peer counts are complete.
                if done_at is None:
                    done_at = now
                if versions <= set(alerts.replies) or now > done_at + 5:
                    break
            elif now > deadline:
                hint = ""
                if alerts.replies and max(alerts.replies.values()) == 0:
                    hint = ("; the tracker answered the leecher with 0 peers "
                            "although the seeder had announced")
                elif not alerts.replies:
                    hint = "; the tracker never answered the leecher"
                raise Failure(
                    "leecher timed out at %.1f%% (tracker replies: %s)%s%s" % (
                        st.progress * 100, alerts.replies or "none", hint,
                        ("; last tracker error: " + alerts.last_tracker_error)
                        if alerts.last_tracker_error else ""))
            if now - last_progress >= 1.0:
                last_progress = now
                log("%s %5.1f%% peers=%d down=%.1f KiB/s" % (
                    st.state, st.progress * 100, st.num_peers,
                    st.download_payload_rate / 1024.0))
            time.sleep(0.05)
        st = h.status()
        log("download complete: %d bytes; tracker replies per info-hash: %s; "
            "peer connections: %s" % (st.total_wanted_done, alerts.replies,
                                      sorted(alerts.peer_endpoints)))
        result = {
            "tracker_replies": alerts.replies,
            "peer_endpoints": sorted(alerts.peer_endpoints),
            "other_source_peers": sorted(other_source_peers),
            "bytes": st.total_wanted_done,
        }
    finally:
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
    ct.set_creator("shoal tests/e2e/libtorrent_swarm.py")
    lt.set_piece_hashes(ct, os.path.dirname(payload))
    with open(torrent_path, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(torrent_path)
    trackers = [t.url for t in ti.trackers()]
    if trackers != [tracker]:
        raise Failure("torrent trackers %r != [%r]" % (trackers, tracker))
    ih = ti.info_hashes()
    if ih.has_v2() != hybrid or not ih.has_v1():
        raise Failure("unexpected torrent kind: v1=%s v2=%s"
                      % (ih.has_v1(), ih.has_v2()))
    log("torrent: %s, %d pieces of %d KiB, v1 info-hash %s%s" % (
        "hybrid v1+v2" if hybrid else "v1-only", ti.num_pieces(),
        ti.piece_length() // 1024, ih.v1,
        (", v2 info-hash %s" % ih.v2) if hybrid else ""))


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
        name = "payload.bin"
        payload = os.path.join(seed_dir, name)
        size = int(args.size_mib * 1024 * 1024)
        digest = make_payload(payload, size)
        log("tracker %s; payload %d bytes, sha256 %s" % (args.tracker, size, digest))
        torrent_path = os.path.join(tmp, "swarm.torrent")
        make_torrent(payload, torrent_path, args.tracker, args.hybrid)

        ses = make_session()
        seed_ep = "127.0.0.1:%d" % ses.listen_port()
        alerts = AlertLog()
        h = ses.add_torrent(add_params(torrent_path, seed_dir))
        versions = {"v1", "v2"} if args.hybrid else {"v1"}

        # 1. Seeder: check the file, then wait until the tracker has answered
        #    its announce for every info-hash.
        last_note = 0.0
        while True:
            alerts.pump(ses)
            alerts.maybe_reannounce(h)
            st = check_torrent_error(h, "seeder")
            if st.is_seeding and versions <= set(alerts.replies):
                break
            now = time.monotonic()
            if now > deadline:
                raise Failure(
                    "seeder never announced successfully to %s (replies for: "
                    "%s; state %s)%s" % (
                        args.tracker, sorted(alerts.replies) or "none", st.state,
                        ("; last tracker error: " + alerts.last_tracker_error)
                        if alerts.last_tracker_error else ""))
            if now - last_note >= 2.0:
                last_note = now
                log("waiting for the seeder's announce (state %s)" % st.state)
            time.sleep(0.05)
        log("seeder %s is announced; starting leecher process" % seed_ep)

        # 2. Leecher in its own process.
        remaining = max(1.0, deadline - time.monotonic())
        cmd = [sys.executable, os.path.abspath(__file__), "--role", "leecher",
               "--tracker", args.tracker, "--torrent", torrent_path,
               "--save-dir", leech_dir, "--timeout", "%.1f" % remaining,
               "--t0", repr(T0)]
        leecher = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        last_note = 0.0
        # Seeder keeps serving (and logging) until the leecher exits; it has
        # its own deadline, plus a grace period for its session shutdown.
        while leecher.poll() is None:
            alerts.pump(ses)
            now = time.monotonic()
            if now > deadline + 10:
                raise Failure("leecher process did not exit in time")
            if now - last_note >= 2.0:
                last_note = now
                st = h.status()
                log("seeding: peers=%d up=%.1f KiB/s uploaded=%d bytes" % (
                    st.num_peers, st.upload_payload_rate / 1024.0,
                    st.total_payload_upload))
            time.sleep(0.05)
        out = leecher.stdout.read().decode("utf-8", "replace")
        rc = leecher.returncode
        leecher = None
        if rc != 0:
            raise Failure("leecher failed (exit status %d); see its log above" % rc)
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failure("leecher printed no result: %r" % out)

        # 3. Verify.
        got = os.path.join(leech_dir, name)
        if not os.path.isfile(got):
            raise Failure("downloaded file missing: %s" % got)
        got_digest = sha256_file(got)
        if got_digest != digest:
            raise Failure("SHA-256 mismatch: downloaded %s, original %s"
                          % (got_digest, digest))
        log("downloaded file is intact (SHA-256 %s)" % got_digest)

        replies = result.get("tracker_replies", {})
        log("leecher got peers from the tracker: %s (info-hash version -> "
            "peers in its announce reply)" % (
                ", ".join("%s: %d" % kv for kv in sorted(replies.items()))
                or "no replies"))
        for v in sorted(versions):
            if replies.get(v, 0) < 1:
                raise Failure("tracker returned no peers to the leecher for "
                              "the %s info-hash (replies: %s)" % (v, replies))
        if result.get("other_source_peers"):
            raise Failure("leecher had peers from non-tracker sources: %s"
                          % result["other_source_peers"])
        # The seeder cannot know the leecher before its next re-announce
        # (minutes away), so the data must have come over a connection the
        # leecher opened to the endpoint the tracker handed out.
        if seed_ep not in result.get("peer_endpoints", []):
            raise Failure("leecher never connected to the seeder at %s "
                          "(its peer connections: %s)"
                          % (seed_ep, result.get("peer_endpoints")))
        log("PASS: %s torrent, %g MiB via %s in %.1fs" % (
            "hybrid" if args.hybrid else "v1-only", args.size_mib,
            args.tracker, time.time() - T0))
        return 0
    finally:
        if leecher is not None and leecher.poll() is None:
            leecher.kill()
            leecher.wait()
        if ses is not None:
            ses.pause()
            del ses
        shutil.rmtree(tmp, ignore_errors=True)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    global ROLE, T0
    p = argparse.ArgumentParser(
        description="Prove two libtorrent clients find each other only "
                    "through TRACKER and transfer a file intact.")
    p.add_argument("--tracker", required=True,
                   help="announce URL, e.g. udp://127.0.0.1:6969/announce")
    p.add_argument("--size-mib", type=float, default=4.0,
                   help="payload size in MiB (default 4)")
    p.add_argument("--hybrid", action="store_true",
                   help="make a v1+v2 hybrid torrent (default: v1-only)")
    p.add_argument("--timeout", type=float, default=90.0,
                   help="overall timeout in seconds (default 90)")
    # Internal: used when the script re-invokes itself as the leecher.
    p.add_argument("--role", choices=["seeder", "leecher"], default="seeder",
                   help=argparse.SUPPRESS)
    p.add_argument("--torrent", help=argparse.SUPPRESS)
    p.add_argument("--save-dir", help=argparse.SUPPRESS)
    p.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    ROLE = args.role
    if args.t0 is not None:
        T0 = args.t0
    if args.size_mib <= 0:
        p.error("--size-mib must be positive")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    signal.signal(signal.SIGTERM, _on_sigterm)
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
