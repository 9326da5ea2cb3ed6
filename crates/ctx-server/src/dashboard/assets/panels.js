// The side panels: the JSON editor (set and delete), a key's history, and dumps.

import { WHO, compact, getJson, parseJson, pretty, query, request, sendJson } from "./api.js";
import { clockTime } from "./context.js";

/** Entries of a key's history shown. */
const HISTORY_LIMIT = 50;

/** Shows an outcome under a form; `kind` is "ok" or "error". */
function say(element, text, kind) {
  element.textContent = text;
  element.dataset.kind = kind;
}

/** The key/value form: validates the JSON as it is typed, sets and deletes over REST. */
export class Editor {
  constructor(onError) {
    this.onError = onError;
    this.form = document.getElementById("editor");
    this.key = document.getElementById("editor-key");
    this.value = document.getElementById("editor-value");
    this.check = document.getElementById("editor-check");
    this.result = document.getElementById("editor-result");
    this.setButton = document.getElementById("editor-set");
    this.deleteButton = document.getElementById("editor-delete");
    this.armedDelete = false;

    this.value.addEventListener("input", () => this.validate());
    this.key.addEventListener("input", () => this.disarmDelete());
    document.getElementById("editor-format").addEventListener("click", () => this.format());
    this.form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      this.set();
    });
    this.deleteButton.addEventListener("click", () => this.delete());
    this.validate();
  }

  /** Fills the form with a key and its current value. */
  load(key, value) {
    this.key.value = key;
    this.value.value = value === undefined ? "" : pretty(value);
    this.disarmDelete();
    this.validate();
    say(this.result, "", "ok");
  }

  /** The parsed value, or null with the reason shown. */
  validate() {
    const text = this.value.value.trim();
    let parsed = null;
    let problem = "";
    if (!text) {
      problem = "Type a JSON value: a string needs quotes (\"text\").";
    } else {
      try {
        parsed = { value: parseJson(text) };
        if (parsed.value === null) {
          parsed = null;
          problem = "null is not a value; use Delete to remove the key.";
        }
      } catch (error) {
        problem = `Not JSON: ${error.message}`;
      }
    }
    this.value.classList.toggle("invalid", Boolean(text) && !parsed);
    say(this.check, parsed ? "Valid JSON." : problem, parsed ? "ok" : text ? "error" : "hint");
    this.setButton.disabled = !parsed;
    return parsed;
  }

  format() {
    const parsed = this.validate();
    if (parsed) this.value.value = pretty(parsed.value);
  }

  async set() {
    const parsed = this.validate();
    const key = this.key.value;
    if (!parsed || !key) return;
    this.setButton.disabled = true;
    try {
      const answer = await sendJson("POST", "/ctx", { key, value: parsed.value, who: WHO });
      say(this.result, answer.changed
        ? `Saved ${key} at revision ${answer.revision}.`
        : `${key} already had this value (revision ${answer.revision}).`, "ok");
    } catch (error) {
      this.failed(error);
    } finally {
      this.setButton.disabled = !this.validate();
    }
  }

  /** The first click arms the button, the second deletes: no modal dialog needed. */
  async delete() {
    const key = this.key.value;
    if (!key) return;
    if (!this.armedDelete) {
      this.armedDelete = true;
      this.deleteButton.textContent = `Delete ${key}?`;
      return;
    }
    this.disarmDelete();
    try {
      const answer = await sendJson("DELETE", `/ctx${query({ key, who: WHO })}`);
      say(this.result, answer.deleted
        ? `Deleted ${key} at revision ${answer.revision}.`
        : `${key} did not exist.`, "ok");
    } catch (error) {
      this.failed(error);
    }
  }

  disarmDelete() {
    this.armedDelete = false;
    this.deleteButton.textContent = "Delete";
  }

  failed(error) {
    say(this.result, error.status === 503 ? `Writes are refused: ${error.message}` : error.message, "error");
    this.onError(error);
  }
}

function valueCell(value) {
  const td = document.createElement("td");
  td.className = "value";
  if (value === null || value === undefined) {
    td.textContent = "—";
    td.classList.add("absent");
  } else {
    td.textContent = compact(value);
    td.title = pretty(value);
  }
  return td;
}

/** One key's changes, newest first: fetched when the key is picked, then kept live. */
export class HistoryPanel {
  constructor(onError) {
    this.onError = onError;
    this.rows = document.getElementById("history-rows");
    this.empty = document.getElementById("history-empty");
    this.title = document.getElementById("history-key");
    this.key = null;
    /** revision → {revision, timestamp, who, before, after}; a live event and the fetched
     * page may both bring the same change. */
    this.entries = new Map();
  }

  async show(key) {
    this.key = key;
    this.entries.clear();
    this.title.textContent = key;
    this.render("Loading…");
    try {
      const answer = await getJson(`/ctx/history${query({ key, limit: HISTORY_LIMIT })}`);
      if (this.key !== key) return;
      for (const entry of answer.history) this.entries.set(entry.revision, entry);
      this.render("No change of this key is kept.");
    } catch (error) {
      this.render(error.message);
      this.onError(error);
    }
  }

  /** A live event for the shown key. */
  change(event) {
    if (event.key !== this.key) return;
    const after = event.type === "context_updated" ? event.value : null;
    this.entries.set(event.revision, { ...event, after });
    this.render("");
  }

  render(emptyText) {
    const newest = [...this.entries.values()].sort((a, b) => b.revision - a.revision).slice(0, HISTORY_LIMIT);
    this.rows.replaceChildren(...newest.map((entry) => {
      const row = document.createElement("tr");
      const revision = document.createElement("td");
      revision.className = "num";
      revision.textContent = entry.revision;
      const when = document.createElement("td");
      when.textContent = clockTime(entry.timestamp);
      when.title = entry.timestamp;
      const who = document.createElement("td");
      who.textContent = entry.who;
      row.append(revision, when, who, valueCell(entry.before), valueCell(entry.after));
      return row;
    }));
    this.empty.textContent = emptyText;
    this.empty.hidden = newest.length > 0;
  }
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Create, list and download dumps. The list refreshes on every context_dumped event. */
export class DumpPanel {
  constructor(onError) {
    this.onError = onError;
    this.list = document.getElementById("dump-list");
    this.result = document.getElementById("dump-result");
    this.format = document.getElementById("dump-format");
    this.history = document.getElementById("dump-history");
    document.getElementById("dump-form").addEventListener("submit", (submit) => {
      submit.preventDefault();
      this.create();
    });
    this.list.addEventListener("click", (click) => {
      const button = click.target.closest("button[data-file]");
      if (button) this.download(button.dataset.file);
    });
  }

  async create() {
    try {
      const answer = await sendJson("POST", "/ctx/dump", {
        format: this.format.value,
        include_history: this.history.checked,
        who: WHO,
      });
      say(this.result, `Wrote ${answer.filename} (${answer.key_count} keys, revision ${answer.revision}).`, "ok");
      // The context_dumped event refreshes the list too; this covers a feed that is down.
      this.refresh();
    } catch (error) {
      say(this.result, error.message, "error");
      this.onError(error);
    }
  }

  async refresh() {
    try {
      const answer = await getJson("/ctx/dump/list");
      const items = answer.dump_files.map((file) => {
        const item = document.createElement("li");
        const name = document.createElement("span");
        name.className = "file";
        name.textContent = file.filename;
        const details = document.createElement("span");
        details.className = "muted";
        details.textContent = `${formatSize(file.size)} · ${clockTime(file.modified)}`;
        const button = document.createElement("button");
        button.type = "button";
        button.className = "ghost small";
        button.dataset.file = file.filename;
        button.textContent = "Download";
        item.append(name, details, button);
        return item;
      });
      if (!items.length) {
        const item = document.createElement("li");
        item.className = "muted";
        item.textContent = "No dumps yet.";
        items.push(item);
      }
      this.list.replaceChildren(...items);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Fetched with the API key (a plain link could not send it), then saved. */
  async download(filename) {
    try {
      const response = await request("GET", `/ctx/dump/${encodeURIComponent(filename)}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = filename;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      say(this.result, error.message, "error");
      this.onError(error);
    }
  }
}
