"""A python-socketio client for tests/cluster_live/reload.rs: connects to a ctx node, prints
"ready" once it has the snapshot of the connection, then waits for the node to send a
fresh snapshot (as it does after reloading its memory from etcd) and prints that one's
context as JSON. Exits non-zero (the reason on stderr) when it does not come in time.

Usage: python3 snapshots.py NODE_URL
"""

import json
import sys
import threading

import socketio

PATIENCE = 90  # seconds; a bound so a broken server fails instead of hanging

snapshots = []
cond = threading.Condition()
sio = socketio.Client(reconnection=False)


@sio.on("context_snapshot")
def on_snapshot(data):
    with cond:
        snapshots.append(data)
        cond.notify_all()


sio.connect(sys.argv[1], wait_timeout=PATIENCE)
with cond:
    if not cond.wait_for(lambda: len(snapshots) >= 1, PATIENCE):
        sys.exit("no snapshot on connect")
print("ready", flush=True)
with cond:
    if not cond.wait_for(lambda: len(snapshots) >= 2, PATIENCE):
        sys.exit(f"no second snapshot; got {snapshots}")
print(json.dumps(snapshots[1]["context"]), flush=True)
sio.disconnect()
