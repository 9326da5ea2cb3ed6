// The REST side of the dashboard: the API key, requests, and JSON that keeps numbers exact.

const KEY_STORAGE = "ctx.apiKey";

/** `who` recorded for the dashboard's own writes and dumps. */
export const WHO = "dashboard";

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** An answer other than 2xx, with the server's `error` sentence. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Parses JSON keeping integers beyond 2^53 (and decimals a double would round) as their
 * source text, so a value read, shown, edited and written back is not silently changed.
 * Uses the reviver's source text and JSON.rawJSON where the browser has them (Chromium
 * 114+, Firefox 135+); elsewhere numbers are plain doubles.
 */
export function parseJson(text) {
  if (typeof JSON.rawJSON !== "function") return JSON.parse(text);
  return JSON.parse(text, (_key, value, context) => {
    if (typeof value === "number" && context?.source !== undefined
        && String(value) !== context.source) {
      return JSON.rawJSON(context.source);
    }
    return value;
  });
}

/** Compact JSON text (raw numbers from `parseJson` are written as they came). */
export function compact(value) {
  return JSON.stringify(value);
}

/** Two-space indented JSON text. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** Sends a request with the API key; resolves to the Response, or throws an ApiError. */
export async function request(method, path, body) {
  const headers = {};
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : compact(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, `server unreachable (${error.message})`);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const answer = parseJson(await response.text());
      if (answer?.error) message = answer.error;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

export async function getJson(path) {
  return parseJson(await (await request("GET", path)).text());
}

export async function sendJson(method, path, body) {
  return parseJson(await (await request(method, path, body)).text());
}

/** `?a=1&b=2` from an object, skipping undefined values. */
export function query(params) {
  const defined = Object.entries(params).filter(([, value]) => value !== undefined);
  return defined.length ? `?${new URLSearchParams(defined)}` : "";
}
