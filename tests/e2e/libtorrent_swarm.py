#!/usr/bin/python3
"""End-to-end swarm test: a libtorrent seeder and a real BitTorrent leecher
(libtorrent, aria2 or Transmission) meet via one tracker.

A seeder session (in this process) writes a random file, builds a torrent
whose only announce URL is the given tracker, and announces to it. Once the
tracker has acknowledged the seeder, the leecher (--leecher, default
libtorrent) is started as a child process and downloads the file into a temp
dir. DHT, LSD/LPD, PeX, UPnP/NAT-PMP (and uTP where it can be turned off) are
off, so the tracker is the only way the two peers can learn about each
other. The downloaded file's SHA-256 must match the original.

Leechers:

  libtorrent    This script re-invoked as a child process (libtorrent shares
                one UDP-tracker connection id between the sessions of a
                process, so they must not share one). It must receive >= 1
                peer from the tracker for every info-hash it announced and
                connect to the seeder's endpoint.
  aria2         `aria2c` on the .torrent file, --seed-time=0, sockets bound
                to 127.0.0.1. aria2 1.36 only speaks UDP-tracker over its DHT
                socket ("udp is not supported yet" with --enable-dht=false),
                so for udp:// trackers DHT is switched on with an empty
                routing table (fresh --dht-file-path, no --dht-entry-point,
                the torrent has no "nodes"), which can find nobody. aria2's
                log must show it dialling the seeder's tracker-supplied
                endpoint.
  transmission  `transmission-cli` (Transmission 3.00) with a settings.json
                in a temp config dir: dht/lpd/pex/utp/port-forwarding off,
                bound to 127.0.0.1, ratio-limit 0 (so it stops, and the CLI
                exits, once the download is complete). Transmission drops
                every tracker-supplied peer on 127.0.0.0/8 ("martian"
                address; only incoming/LPD/resume peers may be loopback), so
                it can never dial the seeder here. Instead the seeder
                re-announces every few seconds until the tracker hands it
                the Transmission leecher's endpoint, and dials it. Peers still
                meet only via the tracker, but the TCP connection goes
                seeder -> leecher. Transmission's log must show >= 1 peer in
                a tracker reply, and the seeder must connect to the
                leecher's port. Transmission only sends "interested" on its
                ~10 s rechoke timer, so this run takes ~15 s.

Usage:
    libtorrent_swarm.py --tracker udp://127.0.0.1:PORT/announce \\
        [--leecher {libtorrent,aria2,transmission}] [--size-mib 4] \\
        [--hybrid] [--timeout 90] [--ca-file PATH]

By default the torrent is v1-only (one info-hash); --hybrid makes a v1+v2
hybrid torrent, for which libtorrent announces twice (SHA-1 info-hash and
the truncated SHA-256 info-hash). aria2 1.36 and Transmission 3.00 only know
v1, so --hybrid is for the libtorrent leecher only.

--ca-file PATH trusts PATH (PEM) for an https:// tracker with a self-signed
certificate; certificate validation stays ON everywhere:
  libtorrent    2.0.x has no settings_pack key for a CA file (only
                validate_https_trackers, default true), but its tracker TLS
                context loads OpenSSL's default verify paths, which honour
                the SSL_CERT_FILE environment variable; the script sets it
                for the seeder (before its session starts) and the
                libtorrent leecher. (The system CA directory still applies.)
  aria2         --ca-certificate=PATH.
  transmission  CURL_CA_BUNDLE=PATH in its environment (Transmission 3.00
                passes that variable to libcurl as CAINFO).

Packages (Debian 12 names; `apt-get install -y ...`):
  always        python3-libtorrent (libtorrent 2.0.x; on Debian only
                importable from /usr/bin/python3) - the seeder is libtorrent
  aria2         aria2 (provides /usr/bin/aria2c, 1.36.0)
  transmission  transmission-cli (provides /usr/bin/transmission-cli, 3.00;
                pulls in transmission-common; no GUI or daemon needed)

Exit status 0 on success, 1 on failure (an "ERROR:" line on stderr says
why). Progress goes to stderr.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
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


def free_port():
    """A port that is currently free on 127.0.0.1 for both TCP and UDP (for
    clients that cannot be told to pick one themselves and report it)."""
    for _ in range(20):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
        finally:
            tcp.close()
            udp.close()
    raise Failure("could not find a free port on 127.0.0.1")


def find_program(name, package):
    path = shutil.which(name)
    if path is None:
        raise Failure("%s not found; install the Debian package %s "
                      "(apt-get install -y %s)" % (name, package, package))
    return path


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def log_tail(what, path, lines=25):
    text = read_text(path).replace("\r", "\n")
    # (Transmission's "Couldn't read <resume file>" lines are expected noise.)
    tail = [l for l in text.splitlines()
            if l.strip() and "Couldn't read" not in l][-lines:]
    log("last %d line(s) of %s (%s):" % (len(tail), what, path))
    for l in tail:
        log("  | " + l[:300])


class Swarm(object):
    """The seeder's side of the run, as the leecher runners need it."""

    def __init__(self, args, deadline, tmp, torrent_path, leech_dir, name,
                 size, digest, versions, ses, handle, alerts):
        self.args = args
        self.deadline = deadline
        self.tmp = tmp
        self.torrent_path = torrent_path
        self.leech_dir = leech_dir
        self.name = name
        self.size = size
        self.digest = digest
        self.versions = versions
        self.ses = ses
        self.h = handle
        self.alerts = alerts
        self.seed_port = ses.listen_port()
        self.seed_ep = "127.0.0.1:%d" % self.seed_port
        self._last_note = 0.0

    def tick(self):
        """Serve for one short step: handle alerts, log now and then."""
        self.alerts.pump(self.ses)
        self.alerts.maybe_reannounce(self.h)
        now = time.monotonic()
        if now - self._last_note >= 2.0:
            self._last_note = now
            st = self.h.status()
            log("seeding: peers=%d up=%.1f KiB/s uploaded=%d bytes" % (
                st.num_peers, st.upload_payload_rate / 1024.0,
                st.total_payload_upload))
        time.sleep(0.05)

    def serve_while(self, proc, what, on_tick=None, grace=10.0):
        """Keep seeding until PROC exits. At the overall deadline PROC gets
        SIGINT (aria2c and transmission-cli shut down cleanly on it, and send
        their "stopped" announce), and SIGKILL GRACE seconds later. Returns
        True if PROC had to be stopped."""
        stop_sent = None
        while proc.poll() is None:
            self.tick()
            now = time.monotonic()
            if on_tick is not None and stop_sent is None:
                on_tick()
            if stop_sent is None and now > self.deadline:
                log("timeout: stopping %s (SIGINT)" % what)
                proc.send_signal(signal.SIGINT)
                stop_sent = now
            elif stop_sent is not None and now > stop_sent + grace:
                log("%s ignored SIGINT; killing it" % what)
                proc.kill()
                proc.wait()
        self.alerts.pump(self.ses)
        return stop_sent is not None

    def wait_uploaded(self, limit_s=3.0):
        """Bytes of payload the seeder has sent, once that reaches the file
        size (libtorrent's counters lag by up to a second) or LIMIT_S
        passes."""
        end = time.monotonic() + limit_s
        while True:
            self.alerts.pump(self.ses)
            up = self.h.status().total_payload_upload
            if up >= self.size or time.monotonic() > end:
                return up
            time.sleep(0.1)

    def check_download(self):
        got = os.path.join(self.leech_dir, self.name)
        if not os.path.isfile(got):
            raise Failure("downloaded file missing: %s (leech dir holds %s)"
                          % (got, sorted(os.listdir(self.leech_dir))))
        got_digest = sha256_file(got)
        if got_digest != self.digest:
            raise Failure("SHA-256 mismatch: downloaded %s, original %s"
                          % (got_digest, self.digest))
        log("downloaded file is intact (SHA-256 %s)" % got_digest)

    def check_seeder_served(self, leecher):
        """The seeder is the only source of the data: it must have sent (at
        least) the whole file."""
        up = self.wait_uploaded()
        if up < self.size:
            raise Failure("the seeder uploaded only %d of %d bytes to the "
                          "%s leecher" % (up, self.size, leecher))
        log("seeder uploaded %d bytes" % up)


# --------------------------------------------------------------------------
# leecher runners (called by the seeder once it is announced)
# --------------------------------------------------------------------------

def leech_libtorrent(sw):
    args = sw.args
    remaining = max(1.0, sw.deadline - time.monotonic())
    cmd = [sys.executable, os.path.abspath(__file__), "--role", "leecher",
           "--tracker", args.tracker, "--torrent", sw.torrent_path,
           "--save-dir", sw.leech_dir, "--timeout", "%.1f" % remaining,
           "--t0", repr(T0)]
    leecher = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        # Seeder keeps serving (and logging) until the leecher exits; it has
        # its own deadline, plus a grace period for its session shutdown.
        while leecher.poll() is None:
            if time.monotonic() > sw.deadline + 10:
                raise Failure("leecher process did not exit in time")
            sw.tick()
        out = leecher.stdout.read().decode("utf-8", "replace")
        rc = leecher.returncode
    finally:
        if leecher.poll() is None:
            leecher.kill()
            leecher.wait()
    if rc != 0:
        raise Failure("leecher failed (exit status %d); see its log above" % rc)
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failure("leecher printed no result: %r" % out)

    sw.check_download()
    replies = result.get("tracker_replies", {})
    log("leecher got peers from the tracker: %s (info-hash version -> "
        "peers in its announce reply)" % (
            ", ".join("%s: %d" % kv for kv in sorted(replies.items()))
            or "no replies"))
    for v in sorted(sw.versions):
        if replies.get(v, 0) < 1:
            raise Failure("tracker returned no peers to the leecher for "
                          "the %s info-hash (replies: %s)" % (v, replies))
    if result.get("other_source_peers"):
        raise Failure("leecher had peers from non-tracker sources: %s"
                      % result["other_source_peers"])
    # The seeder cannot know the leecher before its next re-announce
    # (minutes away), so the data must have come over a connection the
    # leecher opened to the endpoint the tracker handed out.
    if sw.seed_ep not in result.get("peer_endpoints", []):
        raise Failure("leecher never connected to the seeder at %s "
                      "(its peer connections: %s)"
                      % (sw.seed_ep, result.get("peer_endpoints")))


def leech_aria2(sw):
    args = sw.args
    exe = find_program("aria2c", "aria2")
    udp = args.tracker.startswith("udp://")
    log_path = os.path.join(sw.tmp, "aria2.log")
    out_path = os.path.join(sw.tmp, "aria2.out")
    remaining = max(5, int(sw.deadline - time.monotonic()))
    cmd = [
        exe,
        "--no-conf=true",                  # ignore any ~/.aria2/aria2.conf
        "--dir=" + sw.leech_dir,
        # Every socket (peer listen, outgoing, tracker, DHT) on loopback.
        "--interface=127.0.0.1",
        "--disable-ipv6=true",
        "--listen-port=%d" % free_port(),
        # The tracker is the only peer source.
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--enable-dht6=false",
        "--seed-time=0",                   # exit as soon as the file is done
        # Give up if nothing arrives for the rest of the time budget (the
        # script also stops aria2c at the deadline).
        "--bt-stop-timeout=%d" % remaining,
        "--bt-tracker-connect-timeout=10",
        "--bt-tracker-timeout=10",
        "--file-allocation=none",
        "--summary-interval=0",
        "--console-log-level=warn",
        "--log=" + log_path,
        # debug: logs how many peers each tracker reply held.
        "--log-level=debug",
    ]
    if udp:
        # aria2 1.36 sends UDP-tracker packets through its DHT socket and
        # rejects udp:// trackers with DHT off ("udp is not supported
        # yet"). A brand-new routing table with no entry point (the torrent
        # has no "nodes" either) keeps the DHT empty, so it finds no peers.
        cmd += ["--enable-dht=true",
                "--dht-file-path=" + os.path.join(sw.tmp, "aria2-dht.dat"),
                "--dht-listen-port=%d" % free_port()]
    else:
        cmd += ["--enable-dht=false"]
    if args.ca_file:
        cmd += ["--ca-certificate=" + args.ca_file]
    cmd.append(sw.torrent_path)
    log("starting aria2 leecher: %s" % " ".join(cmd))
    t_start = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            timed_out = sw.serve_while(proc, "aria2c")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - t_start
    text = read_text(log_path)
    # Tracker replies: "UDPT received ANNOUNCE reply ... num_peers=N" (UDP);
    # "Now unused peer list contains N peers" after a reply (HTTP, debug).
    peer_counts = [int(n) for n in re.findall(r"num_peers=(\d+)", text)]
    peer_counts += [int(n) for n in
                    re.findall(r"peer list contains (\d+) peers", text)]
    # Outgoing peer connections (not the HTTP tracker's, which also log
    # "Connecting to").
    dialled = sorted(set(re.findall(
        r"PeerInitiateConnectionCommand.*Connecting to (\d+\.\d+\.\d+\.\d+:\d+)",
        text)))
    errors = [l for l in text.splitlines()
              if "[ERROR]" in l and "DHT routing table" not in l]
    for l in sorted(set(errors))[:10]:
        log("aria2 error: %s" % l[:300])
    log("aria2c exited with status %s after %.1fs; peers in tracker "
        "replies: %s; dialled: %s" % (proc.returncode, elapsed,
                                      peer_counts or "none", dialled or "none"))
    if timed_out or proc.returncode != 0:
        log_tail("aria2c output", out_path)
        log_tail("aria2c log", log_path)
        raise Failure("aria2c %s (exit status %s)%s" % (
            "timed out" if timed_out else "failed", proc.returncode,
            "" if peer_counts else "; no tracker reply with peers in its log"))
    sw.check_download()
    if max(peer_counts or [0]) < 1:
        raise Failure("aria2's log shows no tracker reply with >= 1 peer")
    # aria2 has no other peer source, and the seeder cannot know aria2 before
    # its next re-announce (minutes away): aria2 must have dialled the
    # endpoint the tracker handed out.
    if sw.seed_ep not in dialled:
        raise Failure("aria2 never dialled the seeder at %s (dialled: %s)"
                      % (sw.seed_ep, dialled))
    sw.check_seeder_served("aria2")


# How often the seeder re-announces while it waits for the tracker to hand
# it the Transmission leecher (see the module docstring).
SEEDER_REANNOUNCE_S = 2.0


def transmission_settings(port, download_dir):
    return {
        # Peers only from the tracker; TCP only; no port mapping.
        "dht-enabled": False,
        "lpd-enabled": False,
        "pex-enabled": False,
        "utp-enabled": False,
        "port-forwarding-enabled": False,
        "blocklist-enabled": False,
        # Loopback only, on a known port (the seeder must dial it).
        "bind-address-ipv4": "127.0.0.1",
        "bind-address-ipv6": "::1",
        "peer-port": port,
        "peer-port-random-on-start": False,
        # Seed ratio 0: the torrent stops once complete, and with it the CLI.
        "ratio-limit-enabled": True,
        "ratio-limit": 0,
        "idle-seeding-limit-enabled": False,
        "speed-limit-down-enabled": False,
        "speed-limit-up-enabled": False,
        "alt-speed-enabled": False,
        # Debug messages (to stderr) include "Got N peers from tracker".
        "message-level": 3,
        "rpc-enabled": False,
        "watch-dir-enabled": False,
        "incomplete-dir-enabled": False,
        "download-dir": download_dir,
        "start-added-torrents": True,
        # Prefer encryption but accept plaintext (Transmission's default);
        # libtorrent's default policy accepts both.
        "encryption": 1,
    }


def leech_transmission(sw):
    args = sw.args
    exe = find_program("transmission-cli", "transmission-cli")
    cfg_dir = os.path.join(sw.tmp, "transmission")
    os.makedirs(cfg_dir)
    port = free_port()
    leech_ep = "127.0.0.1:%d" % port
    with open(os.path.join(cfg_dir, "settings.json"), "w") as f:
        json.dump(transmission_settings(port, sw.leech_dir), f, indent=1)
    env = dict(os.environ)
    if args.ca_file:
        env["CURL_CA_BUNDLE"] = args.ca_file
    out_path = os.path.join(sw.tmp, "transmission.out")
    err_path = os.path.join(sw.tmp, "transmission.log")
    cmd = [exe, "--config-dir", cfg_dir, "--download-dir", sw.leech_dir,
           sw.torrent_path]
    log("starting Transmission leecher on %s: %s" % (leech_ep, " ".join(cmd)))

    state = {"last": time.monotonic(), "announces": 0}

    def reannounce():
        # Transmission ignores tracker-supplied peers on 127.0.0.0/8, so the
        # seeder has to learn the leecher from the tracker and dial it.
        st = sw.h.status()
        if st.num_peers > 0 or st.total_payload_upload > 0:
            return
        now = time.monotonic()
        if now - state["last"] >= SEEDER_REANNOUNCE_S:
            state["last"] = now
            state["announces"] += 1
            sw.h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)

    t_start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=env)
        try:
            timed_out = sw.serve_while(proc, "transmission-cli",
                                       on_tick=reannounce)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    elapsed = time.monotonic() - t_start
    text = read_text(err_path)
    peer_counts = [int(n) for n in
                   re.findall(r"Got (\d+) peers from tracker", text)]
    # transmission-cli repeats the current error every 200 ms.
    problems = sorted(set(
        l.strip() for l in text.splitlines()
        if l.startswith(("Tracker gave", "Error:"))))
    for l in problems[:10]:
        log("transmission: %s" % l[:300])
    log("transmission-cli exited with status %s after %.1fs; peers in "
        "tracker replies: %s; seeder re-announced %d time(s); seeder "
        "connections: %s" % (proc.returncode, elapsed, peer_counts or "none",
                             state["announces"],
                             sorted(sw.alerts.peer_endpoints) or "none"))
    if timed_out or proc.returncode != 0:
        log_tail("transmission-cli log", err_path, 40)
        raise Failure("transmission-cli %s (exit status %s)" % (
            "timed out" if timed_out else "failed", proc.returncode))
    sw.check_download()
    if max(peer_counts or [0]) < 1:
        raise Failure("Transmission's log shows no tracker reply with >= 1 "
                      "peer")
    if leech_ep not in sw.alerts.peer_endpoints:
        raise Failure("the seeder never connected to the Transmission "
                      "leecher at %s (its peer connections: %s)"
                      % (leech_ep, sorted(sw.alerts.peer_endpoints)))
    sw.check_seeder_served("Transmission")


LEECHERS = {
    "libtorrent": leech_libtorrent,
    "aria2": leech_aria2,
    "transmission": leech_transmission,
}


def run_seeder(args):
    deadline = time.monotonic() + args.timeout
    tmp = tempfile.mkdtemp(prefix="shoal-lt-swarm-")
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
        log("tracker %s; payload %d bytes, sha256 %s; leecher: %s" % (
            args.tracker, size, digest, args.leecher))
        torrent_path = os.path.join(tmp, "swarm.torrent")
        make_torrent(payload, torrent_path, args.tracker, args.hybrid)

        ses = make_session()
        alerts = AlertLog()
        h = ses.add_torrent(add_params(torrent_path, seed_dir))
        versions = {"v1", "v2"} if args.hybrid else {"v1"}
        sw = Swarm(args, deadline, tmp, torrent_path, leech_dir, name, size,
                   digest, versions, ses, h, alerts)

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
        log("seeder %s is announced; starting %s leecher"
            % (sw.seed_ep, args.leecher))

        # 2. Leecher in its own process; 3. verify.
        LEECHERS[args.leecher](sw)
        log("PASS: %s leecher, %s torrent, %g MiB via %s in %.1fs" % (
            args.leecher, "hybrid" if args.hybrid else "v1-only",
            args.size_mib, args.tracker, time.time() - T0))
        return 0
    finally:
        if ses is not None:
            ses.pause()
            del ses
        shutil.rmtree(tmp, ignore_errors=True)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    global ROLE, T0
    p = argparse.ArgumentParser(
        description="Prove a libtorrent seeder and a real BitTorrent leecher "
                    "find each other only through TRACKER and transfer a "
                    "file intact.")
    p.add_argument("--tracker", required=True,
                   help="announce URL, e.g. udp://127.0.0.1:6969/announce")
    p.add_argument("--leecher", choices=sorted(LEECHERS), default="libtorrent",
                   help="leecher client (default libtorrent)")
    p.add_argument("--size-mib", type=float, default=4.0,
                   help="payload size in MiB (default 4)")
    p.add_argument("--hybrid", action="store_true",
                   help="make a v1+v2 hybrid torrent (default: v1-only; "
                        "libtorrent leecher only)")
    p.add_argument("--timeout", type=float, default=90.0,
                   help="overall timeout in seconds (default 90)")
    p.add_argument("--ca-file", metavar="PATH",
                   help="PEM CA certificate(s) to trust for an https:// "
                        "tracker (e.g. a self-signed one); see the module "
                        "docstring for how each client gets it")
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
    if args.hybrid and args.leecher != "libtorrent":
        p.error("--hybrid needs --leecher libtorrent (aria2 1.36 and "
                "Transmission 3.00 do not support BitTorrent v2)")
    if args.ca_file:
        if not os.path.isfile(args.ca_file):
            p.error("--ca-file %s: no such file" % args.ca_file)
        args.ca_file = os.path.abspath(args.ca_file)
        # libtorrent's tracker TLS context uses OpenSSL's default verify
        # paths, which read SSL_CERT_FILE when the session starts; the
        # libtorrent leecher process inherits it. validate_https_trackers
        # stays on (libtorrent's default).
        os.environ["SSL_CERT_FILE"] = args.ca_file
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
