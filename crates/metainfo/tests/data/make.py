#!/usr/bin/python3
"""Makes the .torrent files in this folder and expected.json, what libtorrent reports
about each (info-hashes, name, files, piece length, magnet link).

Run from anywhere with python3-libtorrent and mktorrent installed (Debian packages):
    /usr/bin/python3 crates/metainfo/tests/data/make.py
The content is generated (fixed seed), so a rerun makes the same files; only
mktorrent's are independent of the libtorrent version. tests/libtorrent.rs checks that
shoal-metainfo parses each file to what expected.json says.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile

import libtorrent as lt

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "Sample Ünïcode 音楽"
# (relative path, size): nested folders, a non-ASCII name, an empty file, files
# smaller than, equal to and larger than a 16 KiB piece.
FILES = [
    ("readme.txt", 1000),
    ("sub/b.bin", 40000),
    ("sub/deeper/c.dat", 16384),
    ("sub/deeper/empty", 0),
    ("файл.txt", 70001),
    ("z/last.bin", 5),
]


def make_content(root):
    rng = random.Random(13)
    for rel, size in FILES:
        path = os.path.join(root, NAME, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(size)))
    single = os.path.join(root, "single.bin")
    with open(single, "wb") as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(50000)))
    return os.path.join(root, NAME), single


def lt_torrent(path, out, flags, piece_size=16384, private=False):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs, piece_size, flags=flags)
    t.add_tracker("udp://tracker.example:6969/announce", 0)
    t.add_tracker("http://backup.example/announce", 1)
    t.add_url_seed("http://seed.example/files/")
    t.set_comment("made by make.py")
    t.set_creator("libtorrent " + lt.__version__)
    t.set_priv(private)
    lt.set_piece_hashes(t, os.path.dirname(path))
    entry = t.generate()
    entry[b"creation date"] = 1700000000
    with open(os.path.join(HERE, out), "wb") as f:
        f.write(lt.bencode(entry))


def mktorrent(path, out, extra):
    target = os.path.join(HERE, out)
    if os.path.exists(target):
        os.remove(target)
    subprocess.run(
        ["mktorrent", "-d", "-a", "udp://tracker.example:6969/announce",
         "-a", "http://backup.example/announce", "-o", target] + extra + [path],
        check=True, stdout=subprocess.DEVNULL)


def describe(name):
    ti = lt.torrent_info(os.path.join(HERE, name))
    hashes = ti.info_hashes()
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        files.append({
            "path": fs.file_path(i),
            "size": fs.file_size(i),
            "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
        })
    return {
        "v1": str(hashes.v1) if hashes.has_v1() else None,
        "v2": str(hashes.v2) if hashes.has_v2() else None,
        "name": ti.name(),
        "piece_length": ti.piece_length(),
        "num_pieces": ti.num_pieces(),
        "total_size": ti.total_size(),
        "private": ti.priv(),
        "files": files,
        "magnet": lt.make_magnet_uri(ti),
    }


def main():
    work = tempfile.mkdtemp()
    try:
        folder, single = make_content(work)
        lt_torrent(folder, "lt_v1.torrent", lt.create_torrent.v1_only)
        lt_torrent(folder, "lt_v2.torrent", lt.create_torrent.v2_only)
        lt_torrent(folder, "lt_hybrid.torrent", 0, private=True)
        lt_torrent(single, "lt_single_v1.torrent", lt.create_torrent.v1_only)
        lt_torrent(single, "lt_single_v2.torrent", lt.create_torrent.v2_only)
        lt_torrent(single, "lt_single_hybrid.torrent", 0, piece_size=32768)
        mktorrent(folder, "mktorrent_multi.torrent", ["-l", "15", "-p", "-w", "http://seed.example/"])
        mktorrent(single, "mktorrent_single.torrent", ["-l", "15", "-c", "one file"])
    finally:
        shutil.rmtree(work)
    names = sorted(n for n in os.listdir(HERE) if n.endswith(".torrent"))
    expected = {n: describe(n) for n in names}
    expected["libtorrent_version"] = lt.__version__
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
