/* batchgate dashboard: live updates for server-rendered pages.
 *
 * Pages are rendered by the server. This script keeps them current without a reload:
 * - it follows GET /events (Server-Sent Events); a progress event moves the progress bar
 *   of its run in place, at once;
 * - any other change (a run started or finished, a job deleted, an alert, a resync)
 *   re-fetches the page and swaps its live regions ([data-region] elements, by id), at
 *   most every 1.5 s;
 * - when the event stream is unavailable it polls the page every 5 s instead;
 * - relative times ("3 min ago") and running durations tick every few seconds.
 * A region holding something being filled in (a focused control, or an element marked
 * data-hold, such as alerts.js's silence form) is left as it is until that is done.
 * Other scripts (alerts.js, groups.js) use window.batchgate to follow the same updates.
 */
"use strict";

(() => {
  const REFRESH_GAP_MS = 1500;
  const POLL_MS = 5000;
  const TICK_MS = 1000;
  const PERIODIC_MS = 30000;
  const RECONNECT_MS = 10000;

  /* Server time minus browser time: relative times agree with the server's clock. */
  const clockOffset = (() => {
    const rendered = document.querySelector("footer time[datetime]");
    const server = rendered ? Date.parse(rendered.getAttribute("datetime")) : NaN;
    return Number.isNaN(server) ? 0 : server - Date.now();
  })();
  const now = () => (Date.now() + clockOffset) / 1000;

  /* -- formatting, as collector/web/formatting.py writes it ----------------------------- */

  function toSeconds(value) {
    if (value === null || value === undefined || value === "") return null;
    if (typeof value === "number") return value;
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : parsed / 1000;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    const whole = Math.round(seconds);
    if (whole < 60) return `${whole} s`;
    let minutes = Math.floor(whole / 60);
    const secs = whole % 60;
    if (minutes < 60) return minutes < 10 ? `${minutes} min ${String(secs).padStart(2, "0")} s` : `${minutes} min`;
    let hours = Math.floor(minutes / 60);
    minutes %= 60;
    if (hours < 24) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
    const days = Math.floor(hours / 24);
    hours %= 24;
    return `${days} d ${hours} h`;
  }

  function relative(value) {
    const timestamp = toSeconds(value);
    if (timestamp === null) return "—";
    let delta = now() - timestamp;
    const future = delta < 0;
    delta = Math.abs(delta);
    if (delta < 2) return "just now";
    const whole = future ? Math.round : Math.floor;
    let text;
    if (delta < 60) text = `${whole(delta)} s`;
    else if (delta < 3600) text = `${whole(delta / 60)} min`;
    else if (delta < 86400) text = `${whole(delta / 3600)} h`;
    else text = `${whole(delta / 86400)} d`;
    return future ? `in ${text}` : `${text} ago`;
  }

  function clock(value) {
    const timestamp = toSeconds(value);
    if (timestamp === null) return "";
    return new Date(timestamp * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function number(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    const magnitude = Math.abs(value);
    if (magnitude >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
    if (magnitude >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
    if (magnitude >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    if (magnitude >= 100) return Math.round(value).toLocaleString("en-US");
    return String(Number(value.toPrecision(3)));
  }

  function percent(ratio) {
    if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "—";
    const value = ratio * 100;
    return value > 0 && value < 10 ? `${value.toFixed(1)}%` : `${Math.round(value)}%`;
  }

  /* A DOM element from a tag, attributes and children (strings become text, never HTML). */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function timeElement(value) {
    if (!value) return h("span", { class: "muted" }, "—");
    const iso = new Date(toSeconds(value) * 1000).toISOString();
    return h("time", { datetime: iso, title: clock(value), "data-relative": true }, relative(value));
  }

  /* The key a row carries in data-job-key (collector/web/pages.py job_key). */
  function jobKey(job, labels) {
    const pairs = Object.entries(labels || {}).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return JSON.stringify([job, pairs]);
  }

  /* -- in-place progress ----------------------------------------------------------------- */

  function updateProgress(run) {
    const cells = document.querySelectorAll(`.progress-cell[data-run-id="${CSS.escape(run.run_id)}"]`);
    for (const cell of cells) {
      const bar = cell.querySelector(".progress");
      const ratio = run.status === "running" ? run.progress_ratio : null;
      if (bar) {
        bar.classList.toggle("indeterminate", ratio === null || ratio === undefined);
        bar.classList.toggle("stuck", Boolean(run.stuck));
        if (ratio !== null && ratio !== undefined) {
          bar.setAttribute("aria-valuenow", (ratio * 100).toFixed(1));
          bar.querySelector(".bar").style.width = `${(ratio * 100).toFixed(2)}%`;
        } else {
          bar.removeAttribute("aria-valuenow");
        }
      }
      const pct = cell.querySelector(".pct");
      if (pct) pct.textContent = ratio !== null && ratio !== undefined ? percent(ratio) : "running";
      const done = cell.querySelector(".done");
      if (done && run.progress && run.progress.done !== null && run.progress.done !== undefined) {
        done.textContent = number(run.progress.done) + (run.progress.total ? ` / ${number(run.progress.total)}` : "");
      }
      const eta = cell.querySelector(".eta");
      if (eta) {
        let parts;
        if (run.stuck) {
          const since = toSeconds(run.last_progress_at);
          parts = ["no progress for ", h("span", { "data-elapsed": run.last_progress_at }, duration(now() - since))];
        } else if (run.eta) {
          parts = ["ETA ", timeElement(run.eta)];
        } else {
          parts = ["for ", h("span", { "data-elapsed": run.started_at }, duration(run.elapsed_seconds))];
        }
        eta.replaceChildren(...parts);
      }
    }
    return cells.length;
  }

  /* -- refreshing live regions ----------------------------------------------------------- */

  const refreshHandlers = [];
  let refreshTimer = null;
  let refreshing = false;
  let lastRefresh = 0;

  function scheduleRefresh(delay = 0) {
    if (refreshTimer !== null) return;
    const wait = Math.max(delay, lastRefresh + REFRESH_GAP_MS - Date.now(), 0);
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh();
    }, wait);
  }

  function heldByUser(region) {
    if (region.querySelector("[data-hold]")) return true;
    const active = document.activeElement;
    return active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(active.tagName);
  }

  async function refresh() {
    if (refreshing) {
      scheduleRefresh(REFRESH_GAP_MS);
      return;
    }
    refreshing = true;
    lastRefresh = Date.now();
    try {
      const regions = document.querySelectorAll("[data-region][id]");
      if (regions.length) {
        const response = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
        if (response.ok) {
          const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
          for (const region of regions) {
            const replacement = fresh.getElementById(region.id);
            if (!replacement) continue;
            if (heldByUser(region)) {
              scheduleRefresh(REFRESH_GAP_MS);
              continue;
            }
            region.replaceWith(document.adoptNode(replacement));
          }
          tick();
        }
      }
      for (const handler of refreshHandlers) handler();
      document.dispatchEvent(new CustomEvent("batchgate:refreshed"));
    } catch (error) {
      setState("offline", `could not reach the server: ${error}`);
    } finally {
      refreshing = false;
    }
  }

  /* -- the event stream, or polling ------------------------------------------------------ */

  let pollTimer = null;
  let hadError = false;

  function setState(state, title) {
    const indicator = document.getElementById("live-status");
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.querySelector(".live-text").textContent = state;
    indicator.title = title || {
      live: "Live: following the server's events",
      polling: "Polling: the event stream is unavailable, refreshing every few seconds",
      offline: "Offline: the server does not answer",
    }[state] || "";
  }

  function startPolling() {
    if (pollTimer !== null) return;
    pollTimer = setInterval(() => scheduleRefresh(), POLL_MS);
  }

  function stopPolling() {
    if (pollTimer === null) return;
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function onProgress(run) {
    const cells = document.querySelectorAll(`.progress-cell[data-run-id="${CSS.escape(run.run_id)}"]`);
    const stuckChanged = [...cells].some(
      (cell) => Boolean(cell.querySelector(".progress.stuck")) !== Boolean(run.stuck),
    );
    updateProgress(run);
    if (stuckChanged) {
      scheduleRefresh(); // the job's status badge changes too
      return;
    }
    // A row showing an older run of this job: a newer run started, redraw.
    const started = toSeconds(run.started_at);
    for (const row of document.querySelectorAll(`[data-job-key="${CSS.escape(jobKey(run.job, run.labels))}"]`)) {
      const shown = toSeconds(row.dataset.runStarted);
      if (row.dataset.runId !== run.run_id && shown !== null && started > shown) {
        scheduleRefresh();
        return;
      }
    }
    // The run's own page: its charts and events table grow with it, as soon as the refresh
    // gap allows (not only its progress bar).
    const runPage = document.querySelector("[data-run-page]");
    if (runPage && runPage.dataset.runPage === run.run_id) scheduleRefresh();
  }

  function connect() {
    const url = document.body.dataset.events;
    if (!url) return;
    if (!window.EventSource) {
      setState("polling", "This browser has no EventSource: polling");
      startPolling();
      return;
    }
    const source = new EventSource(url);
    source.addEventListener("open", () => {
      setState("live");
      stopPolling();
      if (hadError) scheduleRefresh(); // events may have been missed while disconnected
      hadError = false;
    });
    source.addEventListener("error", () => {
      hadError = true;
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        setState("offline");
        setTimeout(connect, RECONNECT_MS);
      } else {
        setState("polling");
      }
    });
    source.addEventListener("run.progress", (event) => onProgress(JSON.parse(event.data)));
    const changes = ["run.queued", "run.started", "run.retrying", "run.finished", "job.deleted", "resync"];
    for (const type of [...changes, "alert.pending", "alert.firing", "alert.resolved", "alert.severity"]) {
      source.addEventListener(type, () => scheduleRefresh());
    }
  }

  /* -- commands for a queue's workers (pause, resume, cancel a run): admin --------------- */

  document.addEventListener("click", async (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-command-url]") : null;
    if (!button || button.disabled) return;
    if (!window.confirm(button.dataset.commandConfirm || "Send this command?")) return;
    button.disabled = true;
    const response = await fetch(button.dataset.commandUrl, { method: "POST" });
    button.title = response.ok ? "asked: the queue's workers take it with their next report" : `HTTP ${response.status}`;
    button.textContent = response.ok ? `${button.textContent}: asked` : button.textContent;
    if (!response.ok) button.disabled = false;
  });

  /* -- ticking times ----------------------------------------------------------------------- */

  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function tick() {
    for (const element of document.querySelectorAll("time[data-relative]")) {
      setText(element, relative(element.getAttribute("datetime")));
    }
    for (const element of document.querySelectorAll("[data-elapsed]")) {
      const started = toSeconds(element.dataset.elapsed);
      if (started !== null) setText(element, duration(Math.max(0, now() - started)));
    }
  }

  /* -- filter forms: results follow what is typed ------------------------------------------ */

  let filterTimer = null;

  function applyFilters(form) {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (String(value).trim()) params.append(name, String(value).trim());
    }
    // A form inside a live region (the job page's history filter) is redrawn by the refresh:
    // let go of its focus, which would otherwise hold the redraw back.
    if (form.closest("[data-region]") && form.contains(document.activeElement)) document.activeElement.blur();
    const action = form.getAttribute("action") || location.pathname;
    const query = params.toString();
    history.replaceState(null, "", query ? `${action}?${query}` : action);
    lastRefresh = 0;
    refresh();
  }

  function onFilterInput(event) {
    const form = event.target.closest && event.target.closest("[data-filter-form]");
    if (!form) return;
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => applyFilters(form), event.target.tagName === "SELECT" ? 0 : 300);
  }

  // A select may report only `change` (as some tools driving browsers do): follow both.
  document.addEventListener("input", onFilterInput);
  document.addEventListener("change", onFilterInput);

  document.addEventListener("submit", (event) => {
    const form = event.target.closest && event.target.closest("[data-filter-form]");
    if (!form) return;
    event.preventDefault();
    clearTimeout(filterTimer);
    applyFilters(form);
  });

  // Absolute times on hover, for the times a page writes without a title (the jobs table).
  document.addEventListener("mouseover", (event) => {
    const element = event.target.closest && event.target.closest("time[datetime]");
    if (element && !element.title) element.title = clock(element.getAttribute("datetime"));
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") scheduleRefresh();
  });

  window.batchgate = {
    format: { duration, relative, clock, number, percent, toSeconds },
    h,
    timeElement,
    jobKey,
    now,
    refresh: () => scheduleRefresh(),
    onRefresh: (handler) => refreshHandlers.push(handler),
  };

  document.addEventListener("DOMContentLoaded", () => {
    connect();
    tick();
    setInterval(tick, TICK_MS);
    setInterval(() => {
      if (document.visibilityState === "visible") scheduleRefresh();
    }, PERIODIC_MS);
  });
})();
