#!/usr/bin/env python3
"""The Framework0 server's dump writer, reimplemented from its rules, for byte-for-byte tests.

Reads one JSON document on stdin:
  {"format": "json"|"csv"|"pretty", "filename", "who", "timestamp", "include_history",
   "context": {key: value}, "history": [{timestamp, key, before, after, who, revision}]}
and writes the dump file the old server wrote for it to stdout, as bytes. With the
argument `--download` it writes what the old server *served* for that file instead (it
read the file back in text mode: universal newlines turn the CSV's CRLF into LF).

The old writer's rules: Python's json and csv modules with their defaults —
json.dumps separators (", ", ": "), ensure_ascii escapes ("\\u00e9") in CSV values and in
the pretty layout, the json file as json.dump(indent=2, ensure_ascii=False), csv.writer's
excel dialect (minimal quoting, CRLF rows). Context keys are listed sorted.
"""
import csv
import io
import json
import sys


def python_type_name(value):
    return type(value).__name__


def render_json(doc, context, history):
    out = {
        "timestamp": doc["timestamp"],
        "format": "json",
        "filename": doc["filename"],
        "who": doc["who"],
        "key_count": len(context),
        "include_history": doc["include_history"],
        "context": dict(sorted(context.items())),
    }
    if doc["include_history"]:
        out["history"] = history
    return json.dumps(out, indent=2, ensure_ascii=False)


def render_csv(doc, context):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["Key", "Value", "Type", "Dump_Timestamp", "Requested_By"])
    for key, value in sorted(context.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        writer.writerow([key, text, python_type_name(value), doc["timestamp"], doc["who"]])
    return buffer.getvalue()


def render_pretty(doc, context, history):
    rule, thin = "=" * 80, "-" * 40
    out = [
        f"{rule}\nFramework0 Context Dump - Pretty Format\n{rule}\n\n",
        f"Timestamp: {doc['timestamp']}\nRequested by: {doc['who']}\n",
        f"Total keys: {len(context)}\nInclude history: {doc['include_history']}\n\n",
        f"Context Data:\n{thin}\n",
    ]
    for key, value in sorted(context.items()):
        out.append(f"{key}: {json.dumps(value, indent=2)}\n\n")
    if doc["include_history"]:
        out.append(f"\nChange History:\n{thin}\n")
        for number, entry in enumerate(history, 1):
            out.append(f"{number}. [{entry['timestamp']}] {entry['who']} changed {entry['key']}\n")
            out.append(f"   Before: {json.dumps(entry['before'])}\n")
            out.append(f"   After:  {json.dumps(entry['after'])}\n\n")
    return "".join(out)


def main():
    doc = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    context = doc["context"]
    # Entries in the old writer's field order, plus our `revision` at the end.
    history = [
        {field: entry[field] for field in ("timestamp", "key", "before", "after", "who", "revision")}
        for entry in doc.get("history") or []
    ]
    render = {
        "json": lambda: render_json(doc, context, history),
        "csv": lambda: render_csv(doc, context),
        "pretty": lambda: render_pretty(doc, context, history),
    }[doc["format"]]
    text = render()
    if "--download" in sys.argv[1:]:
        # open(path).read(): universal newlines.
        text = io.StringIO(text, newline=None).read()
    sys.stdout.buffer.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
