"""A real python-socketio peer for tests/live_socketio.rs: what Framework0 clients and
dashboards do, against our /socket.io/. Prints one JSON summary line; exits non-zero
(with the reason on stderr) when an expected event does not arrive.

Usage: python3 live_socketio_peer.py http://127.0.0.1:PORT
"""

import json
import sys
import threading
import urllib.request

import socketio

BASE = sys.argv[1]
PATIENCE = 20  # seconds; a bound so a broken server fails instead of hanging


class Peer:
    """One Socket.IO client that records every event it gets."""

    def __init__(self, name):
        self.name = name
        self.events = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self.record)

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

    def names(self):
        with self.cond:
            return [e for e, _ in self.events]


def http(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        BASE + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
        return json.loads(answer.read())


a, b = Peer("a"), Peer("b")
a.sio.connect(BASE, wait_timeout=PATIENCE)
snapshot_a = a.wait_for("context_snapshot")
a.wait_for("client_stats")
b.sio.connect(BASE, wait_timeout=PATIENCE)
b.wait_for("context_snapshot")
stats_after_b = a.wait_for("client_stats", lambda d: d["count"] == 2)
clients = http("GET", "/ctx/all")["connected_clients"]

a.sio.emit("client_register", {"type": "test_runner", "name": "runner-a"})
registered = a.wait_for("registration_confirmed")

a.sio.emit("context_set", {"key": "sio/a", "value": {"x": 1}, "who": "runner-a"})
confirmed = a.wait_for("context_set_confirmed")
updated_b = b.wait_for("context_updated", lambda d: d["key"] == "sio/a")

# A write over HTTP reaches every Socket.IO client, the writer's peers included.
http("POST", "/ctx", {"key": "http/k", "value": "v", "who": "curl"})
http_a = a.wait_for("context_updated", lambda d: d["key"] == "http/k")
b.wait_for("context_updated", lambda d: d["key"] == "http/k")

# Rewriting the same value is not a change (no history entry) but, as with Framework0,
# still a context_updated for every Socket.IO client.
http("POST", "/ctx", {"key": "http/k", "value": "v", "who": "curl-again"})
rewrite_a = a.wait_for("context_updated", lambda d: d["who"] == "curl-again")
b.wait_for("context_updated", lambda d: d["who"] == "curl-again")
http_k_history = http("GET", "/ctx/history?key=http/k")["filtered_entries"]
# The same over Socket.IO: the writer gets its confirmation, the others the update.
a.sio.emit("context_set", {"key": "sio/a", "value": {"x": 1}, "who": "runner-a-again"})
reconfirmed = a.wait_for("context_set_confirmed", lambda d: d["changed"] is False)
rewrite_b = b.wait_for("context_updated", lambda d: d["who"] == "runner-a-again")

# Integers beyond 64 bits come back exactly (Python ints), in every answer and event.
BIG = [2**64, 10**30, -(2**70), {"n": 2**64 + 1}]
http("POST", "/ctx", {"key": "big", "value": BIG, "who": "py"})
big_event = b.wait_for("context_updated", lambda d: d["key"] == "big")["value"]
a.sio.emit("context_set", {"key": "sio/big", "value": BIG, "who": "runner-a"})
big_over_socket = b.wait_for("context_updated", lambda d: d["key"] == "sio/big")["value"]
big_exact = {
    "socket_set": big_over_socket == BIG,
    "answer": http("GET", "/ctx/big")["value"] == BIG,
    "all": http("GET", "/ctx/all")["context"]["big"] == BIG,
    "history": http("GET", "/ctx/history?key=big")["history"][-1]["after"] == BIG,
    "event": big_event == BIG,
    "event_text": json.dumps(big_event),
}

dump = http("POST", "/ctx/dump", {"format": "txt", "who": "dashboard"})
dumped_a = a.wait_for("context_dumped")
b.wait_for("context_dumped")

a.sio.emit("context_set", {"value": 1})
error = a.wait_for("error")

b.sio.disconnect()
stats_after_leave = a.wait_for("client_stats", lambda d: d["count"] == 1)
a.sio.disconnect()

print(
    json.dumps(
        {
            "snapshot": snapshot_a,
            "stats_after_b": stats_after_b,
            "connected_clients": clients,
            "registered": registered,
            "client_id": a.sio.get_sid() if a.sio.connected else snapshot_a["client_id"],
            "confirmed": confirmed,
            "updated_b": updated_b,
            "http_a": http_a,
            "dump_filename": dump["filename"],
            "dumped_a": dumped_a,
            "error": error,
            "rewrite_a": rewrite_a,
            "rewrite_b": rewrite_b,
            "reconfirmed": reconfirmed,
            "http_k_history": http_k_history,
            "big_exact": big_exact,
            "stats_after_leave": stats_after_leave,
            # A's own write must not come back to it as context_updated.
            "a_updates": [d["key"] for e, d in a.events if e == "context_updated"],
        }
    )
)
