// The context as the page knows it (a snapshot plus the live changes) and its table.

import { compact } from "./api.js";

/** Rows drawn at most: a table of 100 000 keys helps nobody and stalls the browser. */
const MAX_ROWS = 1000;
/** How long a changed row stays highlighted (milliseconds). */
const FRESH_MS = 1500;

export function clockTime(timestamp) {
  if (!timestamp) return "";
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toLocaleTimeString([], { hour12: false });
}

/** Keys and their latest values, revisions and writers. */
export class ContextModel {
  constructor() {
    /** key → { value, text, revision, who, timestamp, changedAt } */
    this.entries = new Map();
  }

  /** Replaces everything with a GET /ctx/all answer (it carries values only). */
  load(answer) {
    this.entries.clear();
    for (const [key, value] of Object.entries(answer.context)) {
      this.entries.set(key, { value, text: compact(value), revision: null, who: "", timestamp: "", changedAt: 0 });
    }
  }

  /**
   * Fills in who wrote each key, and when, from a GET /ctx/history page (oldest first):
   * /ctx/all carries values only. Changes after the snapshot's revision, and keys a live
   * event already described, are left alone.
   */
  describe(history, snapshotRevision) {
    for (const change of history) {
      const entry = this.entries.get(change.key);
      if (!entry || change.after === null || change.revision > snapshotRevision) continue;
      if (entry.revision !== null && !entry.fromHistory) continue;
      Object.assign(entry, {
        revision: change.revision,
        who: change.who,
        timestamp: change.timestamp,
        fromHistory: true,
      });
    }
  }

  /** Applies one context_updated / context_deleted event. */
  apply(event) {
    if (event.type === "context_deleted") {
      this.entries.delete(event.key);
      return;
    }
    this.entries.set(event.key, {
      value: event.value,
      text: compact(event.value),
      revision: event.revision,
      who: event.who,
      timestamp: event.timestamp,
      changedAt: performance.now(),
    });
  }

  /** Sorted keys starting with `prefix`. */
  keys(prefix) {
    const keys = [];
    for (const key of this.entries.keys()) {
      if (key.startsWith(prefix)) keys.push(key);
    }
    return keys.sort();
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Draws the model into the table, at most once per frame however many events arrive. */
export class ContextTable {
  constructor(model, { rows, empty, count, filter, onPick }) {
    this.model = model;
    this.rows = rows;
    this.empty = empty;
    this.count = count;
    this.filter = filter;
    this.selected = "";
    this.pending = false;
    filter.addEventListener("input", () => this.schedule());
    rows.addEventListener("click", (click) => {
      const row = click.target.closest("tr[data-key]");
      if (row) onPick(row.dataset.key);
    });
  }

  select(key) {
    this.selected = key;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    const prefix = this.filter.value;
    const keys = this.model.keys(prefix);
    const now = performance.now();
    const fragment = document.createDocumentFragment();
    for (const key of keys.slice(0, MAX_ROWS)) {
      const entry = this.model.entries.get(key);
      const row = document.createElement("tr");
      row.dataset.key = key;
      if (key === this.selected) row.classList.add("selected");
      const age = now - entry.changedAt;
      if (age < FRESH_MS) {
        // Rows are redrawn often: continue the fade where it was instead of restarting it.
        row.classList.add("fresh");
        row.style.animationDelay = `-${Math.round(age)}ms`;
      }
      const value = cell(entry.text, "value");
      value.title = entry.text;
      row.append(
        cell(key, "key"),
        value,
        cell(entry.revision ?? "", "num"),
        cell(entry.who),
        cell(clockTime(entry.timestamp), "time"),
      );
      fragment.append(row);
    }
    this.rows.replaceChildren(fragment);
    this.empty.hidden = keys.length > 0;
    this.empty.textContent = this.model.entries.size ? `No key starts with "${prefix}".` : "No keys yet.";
    const shown = keys.length > MAX_ROWS ? `first ${MAX_ROWS} of ` : "";
    this.count.textContent = prefix
      ? `${shown}${keys.length} of ${this.model.entries.size} keys`
      : `${shown}${keys.length} keys`;
  }
}
