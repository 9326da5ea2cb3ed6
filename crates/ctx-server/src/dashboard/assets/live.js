// The live feed: a snapshot from GET /ctx/all, then every change pushed over /ws
// (protocol in docs/live.md), resumed from the last revision after any disconnect.

import { apiKey, getJson, parseJson } from "./api.js";

/** Reconnect pauses double from the first to the last (milliseconds). */
const RETRY_FIRST_MS = 250;
const RETRY_LAST_MS = 5000;

/** The feed's state, shown in the badge and in `<html data-live>`. */
export const LiveState = Object.freeze({
  Connecting: "connecting",
  Live: "live",
  Reconnecting: "reconnecting",
  Refused: "refused",
});

function hex(text) {
  return Array.from(new TextEncoder().encode(text), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Follows every key. Callbacks: `snapshot(answer)` with a GET /ctx/all answer (at start and
 * after a resync), `change(event)` for each context_updated/context_deleted in revision
 * order, `dumped(event)`, and `state(LiveState, detail)`.
 */
export class LiveFeed {
  constructor(callbacks) {
    this.callbacks = callbacks;
    this.socket = null;
    /** The last revision applied; null until a snapshot is loaded. */
    this.revision = null;
    this.retryMs = RETRY_FIRST_MS;
    this.retryTimer = null;
  }

  start() {
    this.connect();
  }

  /** Reconnects at once (after the API key changed). */
  restart() {
    clearTimeout(this.retryTimer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
    }
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const key = apiKey();
    // Browsers cannot send headers on a WebSocket upgrade: the key travels as a
    // subprotocol, which the server reads like X-API-Key.
    const protocols = key ? ["ctx", `ctx-key.${hex(key)}`] : ["ctx"];
    const socket = new WebSocket(`${scheme}://${location.host}/ws`, protocols);
    this.socket = socket;
    socket.onopen = () => this.subscribe(socket);
    socket.onmessage = (message) => this.receive(socket, message.data);
    socket.onclose = (close) => this.closed(close);
  }

  async subscribe(socket) {
    try {
      if (this.revision === null) await this.loadSnapshot();
    } catch (error) {
      this.callbacks.state(LiveState.Refused, error.message, error);
      socket.close();
      return;
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    // Replays every change after the snapshot (or after the last one applied), then live.
    socket.send(JSON.stringify({ type: "subscribe", since_revision: this.revision }));
  }

  async loadSnapshot() {
    const answer = await getJson("/ctx/all");
    this.revision = answer.revision;
    this.callbacks.snapshot(answer);
  }

  receive(socket, text) {
    const message = parseJson(text);
    switch (message.type) {
      case "subscribed":
        this.retryMs = RETRY_FIRST_MS;
        this.callbacks.state(LiveState.Live, `from revision ${message.revision}`);
        break;
      case "context_updated":
      case "context_deleted":
        // A replay after a reconnect never repeats, but guard anyway: revisions only grow.
        if (message.revision > this.revision) {
          this.revision = message.revision;
          this.callbacks.change(message);
        }
        break;
      case "context_dumped":
        this.callbacks.dumped(message);
        break;
      case "resync_required":
        // The changes we missed are no longer kept: reload, then follow from there.
        this.revision = null;
        this.subscribe(socket);
        break;
      case "error":
        // A slow-consumer cut-off is followed by a close; we resume from our revision.
        console.warn(`ctx /ws: ${message.error}`);
        break;
      default:
        break;
    }
  }

  closed(close) {
    this.socket = null;
    const detail = close.code === 1006 ? "connection lost" : (close.reason || `closed (${close.code})`);
    this.callbacks.state(LiveState.Reconnecting, detail);
    this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_LAST_MS);
  }
}
