"""Python Socket.IO clients (what Framework0's AsyncContextClient is) against three ctx nodes
of one etcd cluster, for tests/cluster_live/socketio.rs. Prints one JSON summary line; exits
non-zero (the reason on stderr) when an expected event does not arrive.

Usage: python3 socketio_peer.py NODE_A_URL NODE_B_URL NODE_C_URL BURST_WRITES
"""

import json
import sys
import threading
import urllib.request

import socketio

NODE_A, NODE_B, NODE_C = sys.argv[1:4]
BURST = int(sys.argv[4])  # context_set per burst client
BURST_CLIENTS = 4
PATIENCE = 60  # seconds; a bound so a broken server fails instead of hanging


class Peer:
    """One Socket.IO client that records every event it gets."""

    def __init__(self, name, url):
        self.name = name
        self.events = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self.record)
        self.sio.connect(url, wait_timeout=PATIENCE)

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

    def wait_count(self, event, count):
        with self.cond:
            found = self.cond.wait_for(
                lambda: sum(e == event for e, _ in self.events) >= count, PATIENCE
            )
        if not found:
            sys.exit(f"{self.name}: fewer than {count} {event} in time; got {self.events}")

    def of(self, event):
        with self.cond:
            return [d for e, d in self.events if e == event]


def http(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
        return json.loads(answer.read())


# A client of node A gets the context on connect, then writes made on B (HTTP) and on C
# (Socket.IO).
a = Peer("a", NODE_A)
snapshot = a.wait_for("context_snapshot")
all_a = http(NODE_A, "GET", "/ctx/all?consistent=true")

http(NODE_B, "POST", "/ctx", {"key": "http/b", "value": {"n": 1}, "who": "curl-b"})
updated_http = a.wait_for("context_updated", lambda d: d["key"] == "http/b")

c = Peer("c", NODE_C)
c.wait_for("context_snapshot")
c.sio.emit("context_set", {"key": "sio/c", "value": [1, "two"], "who": "runner-c"})
confirmed_c = c.wait_for("context_set_confirmed")
updated_sio = a.wait_for("context_updated", lambda d: d["key"] == "sio/c")

# Several Socket.IO clients of node A writing at once: their writes share etcd
# transactions (one revision for a batch), and each client must still get its own
# confirmations and everyone else's updates, never its own.
burst = [Peer(f"s{i}", NODE_A) for i in range(BURST_CLIENTS)]
for peer in burst:
    peer.wait_for("context_snapshot")


def write_all(index, peer):
    for serial in range(BURST):
        peer.sio.emit(
            "context_set",
            {"key": f"burst/s{index}/{serial}", "value": serial, "who": peer.name},
        )


threads = [threading.Thread(target=write_all, args=(i, p)) for i, p in enumerate(burst)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for peer in burst:
    peer.wait_count("context_set_confirmed", BURST)
# Events leave the node in order: once this later write's event is in, every burst event
# meant for that client was sent. But python-socketio runs each event's handler on a
# thread of its own, so one may still be on its way to the record: wait for the count too
# (the others' burst writes and the fence).
fence = http(NODE_A, "POST", "/ctx", {"key": "fence", "value": True, "who": "fence"})
for peer in burst:
    peer.wait_for("context_updated", lambda d: d["key"] == "fence")
    peer.wait_count("context_updated", (BURST_CLIENTS - 1) * BURST + 1)

print(
    json.dumps(
        {
            "snapshot": snapshot,
            "all_a": all_a,
            "updated_http": updated_http,
            "confirmed_c": confirmed_c,
            "updated_sio": updated_sio,
            "burst": [
                {
                    "who": peer.name,
                    "confirmed": [[d["key"], d["revision"]] for d in peer.of("context_set_confirmed")],
                    "updated": [
                        [d["key"], d["who"]]
                        for d in peer.of("context_updated")
                        if d["key"].startswith("burst/")
                    ],
                }
                for peer in burst
            ],
        }
    )
)
for peer in [a, c, *burst]:
    peer.sio.disconnect()
