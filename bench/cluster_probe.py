#!/usr/bin/python3
"""Replication lag between two shoal nodes, for bench/cluster.sh.

Until --seconds pass, after a random pause of up to --every seconds (so probes do not
fall into step with the nodes' publishing ticks): announces a new peer of a new info-hash to
node A over UDP (BEP 15), then scrapes node B over HTTP every millisecond until B counts
the peer; records how long that took. Prints one JSON line: the lags' count, p50, p90,
p99 and max in milliseconds, and how many never arrived within --give-up seconds.

Usage: cluster_probe.py --udp-a HOST:PORT --http-b HOST:PORT [--seconds 20]
       [--every 0.3] [--give-up 5]
"""

import argparse
import json
import os
import random
import socket
import struct
import time
import urllib.parse
import urllib.request


def udp_announce(addr, info_hash, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    tid = random.getrandbits(32)
    s.sendto(struct.pack(">QII", 0x41727101980, 0, tid), addr)
    data, _ = s.recvfrom(64)
    action, rtid, conn = struct.unpack(">IIQ", data[:16])
    assert action == 0 and rtid == tid, "connect failed"
    tid = random.getrandbits(32)
    peer_id = b"-PR0001-" + os.urandom(12)
    req = struct.pack(">QII20s20sQQQIIIiH", conn, 1, tid, info_hash, peer_id,
                      0, 0, 0, 2, 0, random.getrandbits(32), -1, port)
    s.sendto(req, addr)
    data, _ = s.recvfrom(2048)
    assert struct.unpack(">I", data[:4])[0] == 1, "announce failed"
    s.close()


def seeders_on(http_b, info_hash):
    q = urllib.parse.quote_from_bytes(info_hash)
    with urllib.request.urlopen("http://%s/scrape?info_hash=%s" % (http_b, q), timeout=2) as r:
        body = r.read()
    i = body.find(b"8:completei")
    if i < 0:
        return 0
    return int(body[i + 11:body.index(b"e", i + 11)])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--udp-a", required=True)
    p.add_argument("--http-b", required=True)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--every", type=float, default=0.3)
    p.add_argument("--give-up", type=float, default=5)
    a = p.parse_args()
    host, port = a.udp_a.rsplit(":", 1)
    addr = (host, int(port))
    lags, lost = [], 0
    end = time.monotonic() + a.seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        h = os.urandom(20)
        udp_announce(addr, h, 10000 + n % 50000)
        t0 = time.monotonic()
        while seeders_on(a.http_b, h) == 0:
            if time.monotonic() - t0 > a.give_up:
                lost += 1
                break
            time.sleep(0.001)
        else:
            lags.append((time.monotonic() - t0) * 1000)
        time.sleep(random.uniform(0, a.every))
    lags.sort()
    q = lambda f: lags[min(len(lags) - 1, int(f * len(lags)))] if lags else None
    print(json.dumps({"probes": len(lags), "lost": lost, "p50_ms": q(0.5),
                      "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": lags[-1] if lags else None}))


if __name__ == "__main__":
    main()
