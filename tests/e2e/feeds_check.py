#!/usr/bin/python3
"""Fetches shoal's catalog feeds the way feed readers and Torznab clients do, parses
them, and prints one JSON object of what it found.

Fetches, under BASE_URL (e.g. http://127.0.0.1:8080):

    /catalog/rss?q=WORD                     RSS 2.0, parsed with feedparser when it is
                                            installed, with xml.etree otherwise
    /torznab/api?t=caps                     Torznab capabilities (xml.etree)
    /torznab/api?t=search&q=WORD            Torznab search (xml.etree)
    /torznab/api?t=tvsearch&q=WORD[&season=S[&ep=E]]

and prints:

    {"rss": {"url", "status", "content_type", "parser", "title", "items": [
                {"title", "guid", "link", "pub_date", "infohash", "magnet",
                 "enclosure": {"url", "length", "type"}}]},
     "caps": {"url", "status", "content_type", "limits": {"max", "default"},
              "searching": {"search": {"available", "supportedParams"}, ...},
              "categories": [[id, name], ...]},
     "torznab_search": {"url", "status", "content_type", "error": null | {"code",
              "description"}, "offset", "total", "items": [
                {"title", "guid", "link", "comments", "pub_date", "size", "category",
                 "infohash", "magneturl", "seeders", "leechers", "peers", "files",
                 "grabs", "downloadvolumefactor", "uploadvolumefactor",
                 "enclosure": {"url", "length", "type"}}]},
     "torznab_tvsearch": {... as torznab_search},
     "errors": ["what failed", ...]}

Numbers from the feeds come out as JSON numbers where they parse as integers. A
document that cannot be fetched or parsed is reported in "errors" (and its entry has
"error"); the exit status is 1 then, 0 when every document parsed (a Torznab error
document parses: it is reported as that entry's "error", not in "errors").

feedparser is optional: without it "parser" is "xml.etree" and the RSS fields are
read directly (the magnet from the ezRSS torrent:magnetURI element).

Usage:
    feeds_check.py BASE_URL WORD [--apikey KEY] [--season S] [--ep E] [--timeout 10]
"""

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

NS_TORZNAB = "http://torznab.com/schemas/2015/feed"
NS_NEWZNAB = "http://www.newznab.com/DTD/2010/feeds/attributes/"
NS_TORRENT = "http://xmlns.ezrss.it/0.1/"

try:
    import feedparser  # type: ignore
except ImportError:  # optional: see the module docs
    feedparser = None


def fetch(url, timeout):
    """(status, content type, body bytes); HTTP errors are answers too."""
    req = urllib.request.Request(url, headers={"User-Agent": "shoal-feeds-check/1"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def number(s):
    """An integer when `s` is one, else `s` unchanged (None stays None)."""
    if s is None:
        return None
    try:
        return int(s)
    except (TypeError, ValueError):
        return s


def enclosure_of(item):
    e = item.find("enclosure")
    if e is None:
        return None
    return {
        "url": e.get("url"),
        "length": number(e.get("length")),
        "type": e.get("type"),
    }


def rss_with_feedparser(body):
    d = feedparser.parse(body)
    if d.get("bozo") and not d.entries:
        raise ValueError("feedparser: %s" % d.get("bozo_exception"))
    items = []
    for e in d.entries:
        encl = e.get("enclosures") or []
        first = encl[0] if encl else None
        items.append({
            "title": e.get("title"),
            "guid": e.get("id"),
            "link": e.get("link"),
            "pub_date": e.get("published"),
            # feedparser names namespaced elements prefix_localname, lowercased.
            "infohash": e.get("torrent_infohash"),
            "magnet": e.get("torrent_magneturi"),
            "enclosure": None if first is None else {
                "url": first.get("href"),
                "length": number(first.get("length")),
                "type": first.get("type"),
            },
        })
    return d.feed.get("title"), items


def rss_with_etree(body):
    root = ET.fromstring(body)
    if root.tag != "rss":
        raise ValueError("root element is <%s>, not <rss>" % root.tag)
    channel = root.find("channel")
    if channel is None:
        raise ValueError("no <channel>")
    items = []
    for it in channel.findall("item"):
        items.append({
            "title": it.findtext("title"),
            "guid": it.findtext("guid"),
            "link": it.findtext("link"),
            "pub_date": it.findtext("pubDate"),
            "infohash": it.findtext("{%s}infoHash" % NS_TORRENT),
            "magnet": it.findtext("{%s}magnetURI" % NS_TORRENT),
            "enclosure": enclosure_of(it),
        })
    return channel.findtext("title"), items


def check_rss(base, word, timeout):
    url = "%s/catalog/rss?%s" % (base, urllib.parse.urlencode({"q": word}))
    out = {"url": url}
    out["status"], out["content_type"], body = fetch(url, timeout)
    out["parser"] = "feedparser" if feedparser is not None else "xml.etree"
    parse = rss_with_feedparser if feedparser is not None else rss_with_etree
    out["title"], out["items"] = parse(body)
    return out


def check_caps(base, apikey, timeout):
    params = {"t": "caps"}
    if apikey:
        params["apikey"] = apikey
    url = "%s/torznab/api?%s" % (base, urllib.parse.urlencode(params))
    out = {"url": url}
    out["status"], out["content_type"], body = fetch(url, timeout)
    root = ET.fromstring(body)
    if root.tag == "error":
        out["error"] = {"code": number(root.get("code")), "description": root.get("description")}
        return out
    if root.tag != "caps":
        raise ValueError("root element is <%s>, not <caps>" % root.tag)
    limits = root.find("limits")
    out["limits"] = None if limits is None else {
        "max": number(limits.get("max")),
        "default": number(limits.get("default")),
    }
    searching = root.find("searching")
    out["searching"] = {
        s.tag: {"available": s.get("available"), "supportedParams": s.get("supportedParams")}
        for s in ([] if searching is None else list(searching))
    }
    out["categories"] = [
        [number(c.get("id")), c.get("name")] for c in root.iter("category")
    ]
    return out


def torznab_items(channel):
    items = []
    for it in channel.findall("item"):
        attrs = {}
        for a in it.findall("{%s}attr" % NS_TORZNAB):
            attrs[a.get("name")] = a.get("value")
        entry = {
            "title": it.findtext("title"),
            "guid": it.findtext("guid"),
            "link": it.findtext("link"),
            "comments": it.findtext("comments"),
            "pub_date": it.findtext("pubDate"),
            "enclosure": enclosure_of(it),
        }
        for name in ("size", "category", "seeders", "leechers", "peers", "files",
                     "grabs", "downloadvolumefactor", "uploadvolumefactor"):
            entry[name] = number(attrs.get(name))
        entry["infohash"] = attrs.get("infohash")
        entry["magneturl"] = attrs.get("magneturl")
        items.append(entry)
    return items


def check_torznab(base, params, apikey, timeout):
    if apikey:
        params = dict(params, apikey=apikey)
    url = "%s/torznab/api?%s" % (base, urllib.parse.urlencode(params))
    out = {"url": url, "error": None}
    out["status"], out["content_type"], body = fetch(url, timeout)
    root = ET.fromstring(body)
    if root.tag == "error":
        out["error"] = {"code": number(root.get("code")), "description": root.get("description")}
        out["items"] = []
        return out
    if root.tag != "rss":
        raise ValueError("root element is <%s>, not <rss> or <error>" % root.tag)
    channel = root.find("channel")
    if channel is None:
        raise ValueError("no <channel>")
    response = channel.find("{%s}response" % NS_NEWZNAB)
    out["offset"] = None if response is None else number(response.get("offset"))
    out["total"] = None if response is None else number(response.get("total"))
    out["items"] = torznab_items(channel)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base_url", help="e.g. http://127.0.0.1:8080")
    ap.add_argument("word", help="the search word")
    ap.add_argument("--apikey", help="the Torznab key, when the tracker has one")
    ap.add_argument("--season", help="season for t=tvsearch")
    ap.add_argument("--ep", help="episode for t=tvsearch (needs --season)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = ap.parse_args()
    base = args.base_url.rstrip("/")

    tv = {"t": "tvsearch", "q": args.word}
    if args.season:
        tv["season"] = args.season
    if args.ep:
        tv["ep"] = args.ep
    checks = [
        ("rss", lambda: check_rss(base, args.word, args.timeout)),
        ("caps", lambda: check_caps(base, args.apikey, args.timeout)),
        ("torznab_search", lambda: check_torznab(
            base, {"t": "search", "q": args.word}, args.apikey, args.timeout)),
        ("torznab_tvsearch", lambda: check_torznab(base, tv, args.apikey, args.timeout)),
    ]
    result = {"errors": []}
    for name, run in checks:
        try:
            result[name] = run()
        except Exception as e:  # report every failure, keep checking the rest
            result[name] = {"error": "%s: %s" % (type(e).__name__, e)}
            result["errors"].append("%s: %s: %s" % (name, type(e).__name__, e))
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
