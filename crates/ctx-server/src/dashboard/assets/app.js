// The dashboard's wiring: the API key, the live feed, the panels and the status strip.

import { apiKey, getJson, request, setApiKey } from "./api.js";
import { RateChart, RateMeter, formatRate, totalRequests } from "./chart.js";
import { ContextModel, ContextTable } from "./context.js";
import { LiveFeed, LiveState } from "./live.js";
import { DumpPanel, Editor, HistoryPanel } from "./panels.js";

/** Status, clients and the request rate are read every 2 s (changes are pushed). */
const STATUS_EVERY_MS = 2000;
/** Changes read to say who wrote the keys of the first snapshot. */
const DESCRIBE_CHANGES = 2000;

const element = (id) => document.getElementById(id);

/** Which requests need the key (GET /dashboard/auth): "never", "writes" or "always". */
let keyNeeded = "never";
/** Set once the feed and the status refresh have started (at once, or after the key). */
let running = false;

const model = new ContextModel();
const table = new ContextTable(model, {
  rows: element("context-rows"),
  empty: element("context-empty"),
  count: element("context-count"),
  filter: element("filter"),
  onPick: pick,
});
const editor = new Editor(onApiError);
const keyHistory = new HistoryPanel(onApiError);
const dumps = new DumpPanel(onApiError);
const chart = new RateChart(element("rate-chart"));
const requestRate = new RateMeter();
const changeRate = new RateMeter();
let changesSeen = 0;

const feed = new LiveFeed({
  snapshot(answer) {
    model.load(answer);
    table.schedule();
    element("status-revision").textContent = answer.revision;
    describeSnapshot(answer.revision);
    if (keyInView && !table.selected) pick(keyInView);
  },
  change(event) {
    model.apply(event);
    changesSeen += 1;
    table.schedule();
    keyHistory.change(event);
    element("status-revision").textContent = event.revision;
  },
  dumped() {
    dumps.refresh();
  },
  state(state, detail, error) {
    document.documentElement.dataset.live = state;
    const badge = element("live-badge");
    badge.dataset.state = state;
    badge.textContent = state === LiveState.Live ? "live" : state;
    badge.title = `Live feed over /ws: ${detail}`;
    if (error) onApiError(error);
  },
});

/** Who wrote the keys, from the newest retained changes (a best effort: one request). */
async function describeSnapshot(revision) {
  try {
    const answer = await getJson(`/ctx/history?limit=${DESCRIBE_CHANGES}`);
    model.describe(answer.history, revision);
    table.schedule();
  } catch (error) {
    onApiError(error);
  }
}

function pick(key) {
  table.select(key);
  editor.load(key, model.entries.get(key)?.value);
  keyHistory.show(key);
  rememberView();
}

/** The picked key and the filter live in the URL's fragment (#prefix=jobs/&key=jobs/42),
 * so a view can be bookmarked, shared or reloaded. */
function rememberView() {
  const view = new URLSearchParams();
  if (element("filter").value) view.set("prefix", element("filter").value);
  if (table.selected) view.set("key", table.selected);
  window.history.replaceState(null, "", view.size ? `#${view}` : location.pathname);
}

function restoreView() {
  const view = new URLSearchParams(location.hash.slice(1));
  element("filter").value = view.get("prefix") ?? "";
  element("filter").addEventListener("input", rememberView);
  return view.get("key");
}
const keyInView = restoreView();

/** A 401 means the key is missing or wrong: ask for it. */
function onApiError(error) {
  if (error.status === 401) {
    askForKey(apiKey() ? "The server refused this key." : "This server needs an API key for that.");
  }
}

function askForKey(reason) {
  const dialog = element("key-dialog");
  element("key-reason").textContent = reason;
  element("key-input").value = apiKey();
  if (!dialog.open) dialog.showModal();
}

function keyChosen() {
  const dialog = element("key-dialog");
  if (dialog.returnValue === "clear") setApiKey("");
  else if (dialog.returnValue === "save") {
    const key = element("key-input").value.trim();
    // HTTP headers carry printable ASCII only; the server could never match anything else.
    if (/[^\x21-\x7e]/.test(key)) {
      askForKey("An API key is printable ASCII without spaces.");
      return;
    }
    setApiKey(key);
  } else return;
  showKeyButton();
  if (!running) {
    run();
    return;
  }
  feed.restart();
  dumps.refresh();
  refreshStatus();
}

function showKeyButton() {
  const button = element("key-button");
  button.textContent = apiKey() ? "API key ✓" : "API key";
  button.hidden = keyNeeded === "never" && !apiKey();
}

function formatUptime(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${minutes}m`;
  if (minutes) return `${minutes}m ${seconds % 60}s`;
  return `${seconds}s`;
}

/**
 * Whether the server takes writes. Servers that cannot refuse them say nothing, so a
 * missing field with status "running" means accepted; `writes_refused` (or
 * `writes_accepted`) decides when present, and any other status reads as refused.
 */
export function writesState(status) {
  const reason = status.write_error ?? status.writes_refused_reason ?? status.reason ?? status.status;
  if (typeof status.writes_refused === "boolean") {
    return { refused: status.writes_refused, reason };
  }
  if (typeof status.writes_accepted === "boolean") {
    return { refused: !status.writes_accepted, reason };
  }
  return { refused: status.status !== "running", reason };
}

function showStatus(status) {
  element("status-revision").textContent = status.revision;
  element("status-keys").textContent = status.key_count.toLocaleString();
  element("status-clients").textContent = status.connected_clients;
  element("status-uptime").textContent = formatUptime(status.uptime_seconds);
  element("status-version").textContent = status.version;
  const writes = writesState(status);
  const cell = element("status-writes");
  cell.textContent = writes.refused ? "refused" : "accepted";
  cell.dataset.kind = writes.refused ? "error" : "ok";
  cell.title = writes.refused ? String(writes.reason) : "";
}

async function refreshStatus() {
  if (document.hidden) return;
  try {
    const [status, metrics] = await Promise.all([
      getJson("/ctx/status"),
      request("GET", "/metrics").then((response) => response.text()),
    ]);
    showStatus(status);
    const now = performance.now();
    const requests = requestRate.read(totalRequests(metrics), now);
    const changes = changeRate.read(changesSeen, now);
    if (requests !== null && changes !== null) {
      chart.push(requests, changes);
      element("rate-requests").textContent = formatRate(requests);
      element("rate-changes").textContent = formatRate(changes);
    }
  } catch (error) {
    element("status-writes").textContent = "?";
    onApiError(error);
  }
}

async function start() {
  try {
    keyNeeded = (await getJson("/dashboard/auth")).api_key;
  } catch {
    keyNeeded = "never";
  }
  showKeyButton();
  element("key-button").addEventListener("click", () => askForKey("Change or forget the API key for this tab."));
  element("key-dialog").addEventListener("close", keyChosen);
  if (keyNeeded === "always" && !apiKey()) {
    // Nothing can be read without the key: ask first, start once it is given.
    askForKey("This server needs an API key to read.");
    return;
  }
  run();
}

function run() {
  running = true;
  feed.start();
  dumps.refresh();
  refreshStatus();
  setInterval(refreshStatus, STATUS_EVERY_MS);
}

start();
