"""Socket.IO clients connecting to node A, one after another, while HTTP writers write
through node B, for tests/cluster_live/reconnect.rs: what a client of a dead node does
when it connects to the next one. Records what each connection gets in the order it came
off the wire, and counts events that came before the connection's snapshot although the
snapshot does not hold them (a client replacing its context with the snapshot would lose
them). Prints one JSON summary line; exits non-zero (the reason on stderr) when something
does not happen in time.

Usage: python3 reconnects.py NODE_A_URL NODE_B_URL CONNECTS PRELOAD_KEYS
"""

import json
import sys
import threading
import urllib.request

import socketio

NODE_A, NODE_B = sys.argv[1:3]
CONNECTS = int(sys.argv[3])
PRELOAD = int(sys.argv[4])  # keys written first: a bigger snapshot takes longer to send
WRITERS = 4
EVENTS_AFTER = 20  # events a connection waits for after its snapshot
PATIENCE = 60  # seconds; a bound so a broken server fails instead of hanging

stop = threading.Event()
failures = []


def post(key, value):
    body = json.dumps({"key": key, "value": value, "who": "reconnects"}).encode()
    request = urllib.request.Request(
        NODE_B + "/ctx", data=body, method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=PATIENCE) as answer:
        return json.loads(answer.read())["revision"]


def preload(first):
    for n in range(first, PRELOAD, WRITERS):
        post(f"pre/{n}", {"n": n, "pad": "x" * 50})


def write(writer):
    serial = 0
    while not stop.is_set():
        serial += 1
        try:
            post(f"w/{writer}/{serial}", serial)
        except Exception as error:  # the test fails on any
            failures.append(repr(error))
            return


def connect_once():
    """One connection: (snapshot revision, events before it, events it would undo)."""
    wire = []
    cond = threading.Condition()
    sio = socketio.Client(reconnection=False)
    received = sio.eio._receive_packet

    # python-socketio runs each event's handler on a thread of its own, so handlers can
    # see events out of order: record them where engine.io reads them, in wire order.
    # "2[...]" is a Socket.IO EVENT packet of the default namespace.
    def in_wire_order(packet):
        if isinstance(packet.data, str) and packet.data.startswith("2["):
            event, data = json.loads(packet.data[1:])[:2]
            with cond:
                wire.append((event, data.get("revision")))
                cond.notify_all()
        return received(packet)

    sio.eio._receive_packet = in_wire_order
    sio.connect(NODE_A, wait_timeout=PATIENCE)

    def snapshot_at():
        return next((i for i, (event, _) in enumerate(wire) if event == "context_snapshot"), None)

    with cond:
        done = cond.wait_for(
            lambda: snapshot_at() is not None and len(wire) > snapshot_at() + EVENTS_AFTER,
            PATIENCE,
        )
    sio.disconnect()
    if not done:
        sys.exit(f"no snapshot and {EVENTS_AFTER} events after it in time; got {wire}")
    at = snapshot_at()
    snapshot = wire[at][1]
    before = [revision for event, revision in wire[:at] if event == "context_updated"]
    return snapshot, len(before), [revision for revision in before if revision > snapshot]


threads = [threading.Thread(target=preload, args=(i,)) for i in range(WRITERS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
writers = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(WRITERS)]
for writer in writers:
    writer.start()
connections = [connect_once() for _ in range(CONNECTS)]
stop.set()
for writer in writers:
    writer.join(PATIENCE)
print(
    json.dumps(
        {
            "connections": [
                {"snapshot": snapshot, "before": before, "undone": undone}
                for snapshot, before, undone in connections
            ],
            "failures": failures,
        }
    ),
    flush=True,
)
