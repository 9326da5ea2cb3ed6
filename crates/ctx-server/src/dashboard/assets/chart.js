// The request-rate chart: HTTP requests per second from /metrics and changes per second
// counted from the live feed, one point per status refresh, the last two minutes.

/** Points kept: 60 refreshes of 2 s. */
const POINTS = 60;

/** Sums every `ctx_http_requests_total{...} N` line of a /metrics exposition. */
export function totalRequests(metricsText) {
  let total = 0;
  for (const line of metricsText.split("\n")) {
    if (line.startsWith("ctx_http_requests_total")) {
      const number = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isFinite(number)) total += number;
    }
  }
  return total;
}

/** Turns successive counter readings into per-second rates. */
export class RateMeter {
  constructor() {
    this.last = null;
  }

  /** The rate since the previous reading, or null for the first (or after a restart). */
  read(count, atMs) {
    const previous = this.last;
    this.last = { count, atMs };
    if (!previous || count < previous.count || atMs <= previous.atMs) return null;
    return ((count - previous.count) * 1000) / (atMs - previous.atMs);
  }
}

export class RateChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.requests = [];
    this.changes = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  push(requestsPerSecond, changesPerSecond) {
    for (const [series, value] of [[this.requests, requestsPerSecond], [this.changes, changesPerSecond]]) {
      series.push(value);
      if (series.length > POINTS) series.shift();
    }
    this.draw();
  }

  draw() {
    const canvas = this.canvas;
    const scale = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext("2d");
    context.scale(scale, scale);
    context.clearRect(0, 0, width, height);

    const style = getComputedStyle(canvas);
    const peak = Math.max(1, ...this.requests, ...this.changes);
    const top = niceCeiling(peak);
    const plot = { left: 36, right: width - 4, top: 6, bottom: height - 16 };
    const x = (index) => plot.left + ((plot.right - plot.left) * index) / (POINTS - 1);
    const y = (value) => plot.bottom - ((plot.bottom - plot.top) * value) / top;

    context.font = "11px system-ui, sans-serif";
    context.fillStyle = style.getPropertyValue("--muted");
    context.strokeStyle = style.getPropertyValue("--grid");
    context.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const value = top * fraction;
      const lineY = Math.round(y(value)) + 0.5;
      context.beginPath();
      context.moveTo(plot.left, lineY);
      context.lineTo(plot.right, lineY);
      context.stroke();
      context.fillText(top >= 10 ? Math.round(value).toLocaleString() : value.toFixed(1), 2, lineY + 4);
    }
    context.fillText("2 min ago", plot.left, height - 3);
    context.textAlign = "right";
    context.fillText("now", plot.right, height - 3);

    for (const [series, color] of [[this.requests, "--requests"], [this.changes, "--changes"]]) {
      const offset = POINTS - series.length;
      context.strokeStyle = style.getPropertyValue(color);
      context.lineWidth = 2;
      context.lineJoin = "round";
      context.beginPath();
      series.forEach((value, index) => {
        const method = index === 0 ? "moveTo" : "lineTo";
        context[method](x(offset + index), y(value ?? 0));
      });
      context.stroke();
    }
  }
}

function niceCeiling(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

export function formatRate(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 100) return Math.round(value).toLocaleString();
  return value.toFixed(value >= 10 ? 0 : 1);
}
