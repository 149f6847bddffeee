#!/usr/bin/env python3
"""A fake Subsonic server with a large generated library, for benches/import.sh.

Usage: fake_subsonic.py PORT TRACKS
Accepts any credentials. Serves ping, getArtists, getAlbumList2 (paged) and getAlbum; every
other endpoint answers an empty "ok". Albums hold 12 songs each, 10 albums per artist.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = int(sys.argv[1])
TRACKS = int(sys.argv[2])
PER_ALBUM = 12
ALBUMS = (TRACKS + PER_ALBUM - 1) // PER_ALBUM
ARTISTS = (ALBUMS + 9) // 10


def album_head(a):
    return {
        "id": f"al{a}", "name": f"Album {a} (Deluxe Édition)", "artist": f"Ärtist {a // 10}",
        "artistId": f"ar{a // 10}", "songCount": songs_in(a), "duration": 200 * songs_in(a),
        "year": 1970 + a % 50, "genre": "Rock", "changed": "2026-01-01T00:00:00Z",
    }


def songs_in(a):
    return min(PER_ALBUM, TRACKS - a * PER_ALBUM)


def ok(body):
    env = {"status": "ok", "version": "1.16.1"}
    env.update(body)
    return json.dumps({"subsonic-response": env}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        name = url.path.rsplit("/", 1)[-1].removesuffix(".view")
        if name == "getArtists":
            artists = [{"id": f"ar{i}", "name": f"Ärtist {i}", "albumCount": 10} for i in range(ARTISTS)]
            body = ok({"artists": {"index": [{"name": "A", "artist": artists}]}})
        elif name == "getAlbumList2":
            offset, size = int(q.get("offset", 0)), int(q.get("size", 10))
            albums = [album_head(a) for a in range(offset, min(offset + size, ALBUMS))]
            body = ok({"albumList2": {"album": albums}})
        elif name == "getAlbum":
            a = int(q.get("id", "al0")[2:])
            head = album_head(a)
            head["song"] = [
                {"id": f"al{a}-s{s}", "title": f"Sóng {s} of {a} (2011 Remaster)",
                 "album": head["name"], "albumId": head["id"], "artist": head["artist"],
                 "artistId": head["artistId"], "track": s + 1, "discNumber": 1,
                 "year": head["year"], "duration": 200, "genre": "Rock",
                 "isrc": [f"USX{a:06d}{s:03d}"]}
                for s in range(songs_in(a))
            ]
            body = ok({"album": head})
        else:
            body = ok({})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
