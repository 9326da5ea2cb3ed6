"""A python-socketio peer for tests/limits.rs: a read-only API key, a nested value past
the depth limit, and messages past the size limit over both Engine.IO transports.
Prints one JSON summary line; exits non-zero (with the reason on stderr) when an
expected event does not arrive.

Usage: python3 limits_socketio_peer.py http://127.0.0.1:PORT READ_KEY WRITE_KEY MAX_MESSAGE_BYTES
"""

import json
import sys
import threading
import urllib.request

import socketio

BASE, READ_KEY, WRITE_KEY, MAX_MESSAGE_BYTES = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PATIENCE = 20  # seconds; a bound so a broken server fails instead of hanging


class Peer:
    """One Socket.IO client that records every event it gets, disconnects included."""

    def __init__(self, name, key, transports):
        self.name = name
        self.events = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self.record)
        self.sio.on("disconnect", lambda *reason: self.record("disconnect"))
        self.sio.connect(
            BASE, headers={"X-API-Key": key}, transports=transports, wait_timeout=PATIENCE
        )
        self.wait_for("context_snapshot")

    def record(self, event, data=None):
        with self.cond:
            self.events.append([event, data])
            self.cond.notify_all()

    def wait_for(self, event, pred=lambda data: True):
        with self.cond:
            found = self.cond.wait_for(
                lambda: any(e == event and pred(d) for e, d in self.events), PATIENCE
            )
        if not found:
            sys.exit(f"{self.name}: no {event} in time; got {self.events}")
        return next(d for e, d in self.events if e == event and pred(d))


def http(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        BASE + path,
        data=data,
        method=method,
        headers={"content-type": "application/json", "x-api-key": WRITE_KEY},
    )
    with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
        return json.loads(answer.read())


reader = Peer("reader", READ_KEY, ["polling", "websocket"])
writer = Peer("writer", WRITE_KEY, ["polling", "websocket"])

# A read-only key: its write is refused, and it still gets everyone else's updates.
reader.sio.emit("context_set", {"key": "ro/attempt", "value": 1})
read_only_error = reader.wait_for("error")
writer.sio.emit("context_set", {"key": "ro/by-writer", "value": {"n": 1}})
writer_confirmed = writer.wait_for("context_set_confirmed")
reader_update = reader.wait_for("context_updated", lambda d: d["key"] == "ro/by-writer")

# A value nested past the depth limit: an error naming the limit, nothing stored.
deep = 1
for _ in range(65):
    deep = [deep]
writer.sio.emit("context_set", {"key": "deep", "value": deep})
depth_error = writer.wait_for("error", lambda d: "deep" in d["error"])

# A message past the size limit disconnects its sender, on either transport; the others
# stay connected and keep getting updates.
oversized = {}
for transport in ["polling", "websocket"]:
    big = Peer(f"big-{transport}", WRITE_KEY, [transport])
    big.sio.emit("context_set", {"key": f"big/{transport}", "value": "x" * (MAX_MESSAGE_BYTES + 10)})
    big.wait_for("disconnect")
    oversized[transport] = [e for e, _ in big.events]
http("POST", "/ctx", {"key": "after/big", "value": 1})
reader.wait_for("context_updated", lambda d: d["key"] == "after/big")

stored = http("GET", "/ctx/all")["context"]
reader.sio.disconnect()
writer.sio.disconnect()

print(
    json.dumps(
        {
            "read_only_error": read_only_error,
            "writer_confirmed": writer_confirmed,
            "reader_update": reader_update,
            "depth_error": depth_error,
            "oversized_events": oversized,
            "stored_keys": sorted(stored),
        }
    )
)
