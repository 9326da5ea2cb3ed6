"""Socket.IO clients of three ctx nodes of one etcd cluster while node 0 is SIGKILLed under
writers, for tests/cluster_live/node_kill.rs.

Node 1 has LISTENERS clients that only listen. Node 0 has two Socket.IO clients writing
with context_set and two HTTP writers; node 2 three HTTP writers and one Socket.IO writer.
Every write is of a new key (`kill/<writer>/<serial>` = serial), so an event names the
write it comes from; each writer has one write in flight at a time.

Talks with the test over its pipes:
- prints "kill" once every writer has had ACKED_BEFORE writes acknowledged; the test then
  SIGKILLs node 0 and answers "killed" on stdin;
- node 0's Socket.IO clients, cut, connect again, one to node 1 and one to node 2 (as a
  client given several URLs would) and listen from there;
- node 2's writers go on until ACKED_AFTER more of their writes are acknowledged, then
  stop; one last write through node 2 (the fence) comes after every other (a node emits
  in revision order, so events of writes in flight when node 0 died come before it);
- once every connected client has had every acknowledged write (in its snapshot or as
  an event) or PATIENCE has passed, prints one JSON summary line (the test says what is
  missing) and exits.
Exits non-zero (the reason on stderr) when something does not happen in time.

Usage: python3 node_kill.py NODE0_URL NODE1_URL NODE2_URL
"""

import json
import sys
import threading
import time
import urllib.request

import socketio

NODES = sys.argv[1:4]
LISTENERS = 3  # Socket.IO clients of node 1
ACKED_BEFORE = 20  # writes acknowledged per writer before node 0 is killed
ACKED_AFTER = 300  # writes acknowledged through node 2 after the kill
PATIENCE = 60  # seconds; a bound so a broken server fails instead of hanging

# Guards every record below; notified on every change to one.
lock = threading.Condition()
kill_requested = False  # set when "kill" is printed: what was acknowledged before, was before the kill
kill_at = None  # time.monotonic() then
told_killed = False
stop = threading.Event()


def wait(what, predicate):
    """Waits (main thread only: it exits the script) until predicate holds."""
    with lock:
        if not lock.wait_for(predicate, PATIENCE):
            sys.exit(f"{what}: not within {PATIENCE} s")


def post(node, key, value, who):
    """An HTTP write; its revision once acknowledged."""
    body = json.dumps({"key": key, "value": value, "who": who}).encode()
    request = urllib.request.Request(
        NODES[node] + "/ctx", data=body, method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
        return json.loads(answer.read())["revision"]


class Client:
    """One Socket.IO client (no automatic reconnection) that records what it gets."""

    def __init__(self, name, node):
        self.name, self.node = name, node
        self.snapshots = []
        self.updated = []
        self.keys = set()  # in a snapshot or an event
        self.confirmed = {}  # key -> revision of this client's own context_set
        self.errors = []
        self.disconnects = 0
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("context_snapshot", self.on_snapshot)
        self.sio.on("context_updated", self.on_updated)
        self.sio.on("context_set_confirmed", self.on_confirmed)
        self.sio.on("error", self.on_error)
        self.sio.on("disconnect", self.on_disconnect)
        self.sio.connect(NODES[node], wait_timeout=PATIENCE)
        wait(f"{name}'s snapshot", lambda: self.snapshots)

    def on_snapshot(self, data):
        with lock:
            self.snapshots.append({"revision": data["revision"], "context": data["context"]})
            self.keys.update(data["context"])
            lock.notify_all()

    def on_updated(self, data):
        with lock:
            self.keys.add(data["key"])
            self.updated.append(
                {
                    "key": data["key"],
                    "value": data["value"],
                    "revision": data["revision"],
                    "at": time.monotonic(),
                }
            )
            lock.notify_all()

    def on_confirmed(self, data):
        with lock:
            self.confirmed[data["key"]] = data["revision"]
            lock.notify_all()

    def on_error(self, data=None):
        with lock:
            self.errors.append(data)
            lock.notify_all()

    def on_disconnect(self, *reason):
        with lock:
            self.disconnects += 1
            lock.notify_all()

    def summary(self):
        with lock:
            return {
                "name": self.name,
                "node": self.node,
                "snapshots": self.snapshots,
                "updated": self.updated,
                "disconnects": self.disconnects,
                "connected": self.sio.connected,
            }


class Writer:
    """Writes new keys one at a time until stopped or until its node fails it; records
    what was acknowledged, and what was tried without an answer (done or not)."""

    def __init__(self, name, node, kind):
        self.name, self.node, self.kind = name, node, kind
        self.acked = []
        self.unacked = []
        self.failures = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        serial = 0
        while not stop.is_set():
            serial += 1
            key = f"kill/{self.name}/{serial}"
            try:
                revision = self.write(key, serial)
            except Exception as error:  # cut, refused or unanswered: done or not
                with lock:
                    self.unacked.append(key)
                    self.failures.append({"error": repr(error), "before_kill": not kill_requested})
                    lock.notify_all()
                return  # its node is gone (the test fails on any other failure)
            with lock:
                self.acked.append(
                    {
                        "key": key,
                        "value": serial,
                        "revision": revision,
                        "before_kill": not kill_requested,
                    }
                )
                lock.notify_all()

    def summary(self):
        with lock:
            return {
                "name": self.name,
                "node": self.node,
                "kind": self.kind,
                "acked": self.acked,
                "unacked": self.unacked,
                "failures": self.failures,
            }


class HttpWriter(Writer):
    def __init__(self, name, node):
        super().__init__(name, node, "http")

    def write(self, key, serial):
        return post(self.node, key, serial, self.name)


class SioWriter(Writer):
    def __init__(self, name, node):
        super().__init__(name, node, "socketio")
        self.client = Client(name, node)

    def write(self, key, serial):
        client = self.client
        client.sio.emit("context_set", {"key": key, "value": serial, "who": self.name})
        with lock:
            answered = lock.wait_for(
                lambda: key in client.confirmed or client.errors or client.disconnects, PATIENCE
            )
            if key in client.confirmed:
                return client.confirmed[key]
            raise ConnectionError(
                f"no confirmation (errors {client.errors}, disconnects {client.disconnects})"
                if answered
                else "no confirmation in time"
            )


def read_stdin():
    global told_killed
    line = sys.stdin.readline()
    with lock:
        told_killed = line.strip() == "killed"
        lock.notify_all()


listeners = [Client(f"l{i}", 1) for i in range(LISTENERS)]
cut = [SioWriter("s0a", 0), SioWriter("s0b", 0)]
node2 = [HttpWriter("h2a", 2), HttpWriter("h2b", 2), HttpWriter("h2c", 2), SioWriter("s2", 2)]
writers = [*cut, HttpWriter("h0a", 0), HttpWriter("h0b", 0), *node2]
for writer in writers:
    writer.thread.start()
wait(
    f"{ACKED_BEFORE} writes acknowledged per writer",
    lambda: all(len(w.acked) >= ACKED_BEFORE for w in writers),
)
with lock:
    kill_requested = True
    kill_at = time.monotonic()
print("kill", flush=True)
threading.Thread(target=read_stdin, daemon=True).start()
wait("the test's 'killed'", lambda: told_killed)

with lock:
    acked_at_kill = sum(len(w.acked) for w in node2)
wait("node 0's Socket.IO clients to be cut", lambda: all(w.client.disconnects for w in cut))
reconnected = [Client(f"{w.name}-again", node) for w, node in zip(cut, (1, 2))]
wait(
    f"{ACKED_AFTER} writes through node 2 after the kill",
    lambda: sum(len(w.acked) for w in node2) >= acked_at_kill + ACKED_AFTER,
)
stop.set()
for writer in writers:
    writer.thread.join(PATIENCE)
    if writer.thread.is_alive():
        sys.exit(f"{writer.name} did not stop")

fence = {"key": "kill/fence", "value": 0}
fence["revision"] = post(2, fence["key"], fence["value"], "fence")
connected = [*listeners, *reconnected]
acked = {write["key"] for writer in writers for write in writer.acked} | {fence["key"]}
# Not the fence's event alone: python-socketio's client runs each message's handler on a
# thread of its own, so a later event can be recorded before an earlier one.
with lock:
    lock.wait_for(lambda: all(acked <= client.keys for client in connected), PATIENCE)
print(
    json.dumps(
        {
            "writers": [w.summary() for w in writers],
            "fence": fence,
            "kill_at": kill_at,
            "listeners": [c.summary() for c in listeners],
            "reconnected": [c.summary() for c in reconnected],
        }
    ),
    flush=True,
)
for client in connected:
    client.sio.disconnect()
for writer in node2:
    if isinstance(writer, SioWriter):
        writer.client.sio.disconnect()
