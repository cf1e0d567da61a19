/* Alerts: the alerts page ([data-alerts-page]) and small alert lists ([data-alerts-widget]).
 *
 * Built in the browser from GET /alerts and GET /silences (Alertmanager's silence shape);
 * URLs are relative to the page's <base> (the server's root, under any route prefix);
 * a silence is created with POST /silences and expired with DELETE /silences/{id}.
 * A server without the alerting API answers 404: the page says so instead of breaking.
 */
"use strict";

(() => {
  const B = window.batchgate;
  const { h } = B;
  const DURATIONS = [
    ["30m", 1800], ["1h", 3600], ["2h", 7200], ["4h", 14400], ["8h", 28800],
    ["1d", 86400], ["3d", 259200], ["1w", 604800],
  ];
  const RESOLVED_SHOWN = 50;
  const SILENCER_KEY = "batchgate.silencer";

  class Unavailable extends Error {}

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (response.status === 404 || response.status === 405) throw new Unavailable(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function sendJson(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let answer = null;
    try {
      answer = await response.json();
    } catch (_) {
      answer = null;
    }
    if (!response.ok) {
      const details = answer && Array.isArray(answer.details)
        ? answer.details.map((d) => (d.field ? `${d.field}: ${d.reason}` : JSON.stringify(d))).join("; ")
        : "";
      const message = (answer && (answer.error || answer.message)) || `HTTP ${response.status}`;
      throw new Error(details ? `${message} (${details})` : message);
    }
    return answer;
  }

  function silenceList(answer) {
    if (Array.isArray(answer)) return answer;
    if (answer && Array.isArray(answer.silences)) return answer.silences;
    if (answer && Array.isArray(answer.data)) return answer.data;
    return [];
  }

  function silenceState(silence) {
    if (silence.status && silence.status.state) return silence.status.state;
    const t = B.now();
    if (t < B.format.toSeconds(silence.startsAt)) return "pending";
    return t < B.format.toSeconds(silence.endsAt) ? "active" : "expired";
  }

  /* As Alertmanager: regexes are anchored, a missing label reads as "". */
  function matches(silence, labels) {
    return (silence.matchers || []).every((m) => {
      const actual = labels[m.name] === undefined ? "" : labels[m.name];
      let found;
      if (m.isRegex) {
        try {
          found = new RegExp(`^(?:${m.value})$`).test(actual);
        } catch (_) {
          found = false;
        }
      } else {
        found = actual === m.value;
      }
      return m.isEqual === false ? !found : found;
    });
  }

  function silencedBy(alert, silences) {
    const ids = new Set(alert.silenced_by || []);
    for (const silence of silences) {
      if (silenceState(silence) === "active" && matches(silence, alert.labels || {})) ids.add(silence.id);
    }
    return [...ids];
  }

  function jobLink(alert) {
    if (!alert.job) return null;
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(alert.job_labels || {}).sort()) query.append("label", `${name}=${value}`);
    const suffix = query.toString() ? `?${query}` : "";
    return h("a", { href: `ui/jobs/${encodeURIComponent(alert.job)}${suffix}` }, alert.job);
  }

  function labelChips(labels, skip) {
    return Object.entries(labels || {})
      .filter(([name]) => !skip.includes(name))
      .sort()
      .map(([name, value]) => h("span", { class: "label" }, h("span", { class: "label-name" }, name), "=", h("span", { class: "label-value" }, value)));
  }

  function matcherText(matcher) {
    const op = `${matcher.isEqual === false ? "!" : "="}${matcher.isRegex ? "~" : ""}`;
    return `${matcher.name}${op === "=" ? "=" : op}"${matcher.value}"`;
  }

  /* The matchers a silence of this alert uses: the alert's labels but its severity (which may
   * escalate); for "job" scope without the run id, for "rule" scope only the alert name. */
  function matchersFor(alert, scope) {
    const labels = { ...(alert.labels || {}) };
    if (!labels.alertname && alert.alertname) labels.alertname = alert.alertname;
    if (!labels.job && alert.job) labels.job = alert.job;
    delete labels.severity;
    if (scope !== "run") delete labels.run_id;
    const names = scope === "rule" ? ["alertname"] : Object.keys(labels).sort();
    return names.filter((name) => labels[name] !== undefined).map((name) => ({ name, value: labels[name], isRegex: false, isEqual: true }));
  }

  function silenceForm(alert, done) {
    const form = h("form", { class: "silence-form", "aria-label": `silence ${alert.alertname}` });
    const durationSelect = h("select", { name: "duration" }, DURATIONS.map(([text, seconds]) => h("option", { value: seconds, selected: seconds === 7200 }, text)));
    const scopeSelect = h("select", { name: "scope" },
      h("option", { value: "job" }, "this alert of this job"),
      alert.run_id ? h("option", { value: "run" }, "this run only") : null,
      h("option", { value: "rule" }, `${alert.alertname} for every job`));
    const comment = h("input", { name: "comment", required: true, value: "Silenced from the batchgate dashboard" });
    const creator = h("input", { name: "createdBy", required: true, value: localStorage.getItem(SILENCER_KEY) || "dashboard" });
    const preview = h("div", { class: "matchers" });
    const error = h("div", { class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary" }, "Silence");
    const showMatchers = () => preview.replaceChildren("Matchers: ", matchersFor(alert, scopeSelect.value).map(matcherText).join(", "));
    scopeSelect.addEventListener("change", showMatchers);
    showMatchers();
    form.append(
      h("label", {}, "For", durationSelect),
      h("label", {}, "Scope", scopeSelect),
      h("label", { class: "grow" }, "Comment", comment),
      h("label", {}, "By", creator),
      submit,
      h("button", { type: "button", onclick: () => done(false) }, "Cancel"),
      preview,
      error,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      error.textContent = "";
      const start = new Date(B.now() * 1000);
      const end = new Date(start.getTime() + Number(durationSelect.value) * 1000);
      localStorage.setItem(SILENCER_KEY, creator.value);
      try {
        await sendJson("POST", "silences", {
          matchers: matchersFor(alert, scopeSelect.value),
          startsAt: start.toISOString(),
          endsAt: end.toISOString(),
          createdBy: creator.value,
          comment: comment.value,
        });
        done(true);
      } catch (failure) {
        error.textContent = `Could not silence: ${failure.message}`;
        submit.disabled = false;
      }
    });
    return form;
  }

  function alertItem(alert, silences, options) {
    const silencers = silencedBy(alert, silences);
    const shownState = silencers.length && alert.state !== "resolved" ? "silenced" : alert.state;
    const annotations = alert.annotations || {};
    const meta = [];
    if (alert.state === "resolved") meta.push("resolved ", B.timeElement(alert.resolved_at));
    else if (alert.fired_at) meta.push("firing since ", B.timeElement(alert.fired_at));
    else meta.push("pending since ", B.timeElement(alert.active_at));
    if (alert.run_id) meta.push(" · run ", h("a", { href: `ui/runs/${encodeURIComponent(alert.run_id)}` }, h("code", {}, alert.run_id.slice(0, 12))));
    if (silencers.length) meta.push(` · silenced by ${silencers.length} silence${silencers.length > 1 ? "s" : ""}`);
    const item = h("li", { class: `alert-item state-${shownState}`, "data-alert-id": alert.id, "data-fingerprint": alert.fingerprint });
    const actions = h("div", { class: "alert-actions" });
    if (options.actions && alert.state !== "resolved" && !silencers.length) {
      actions.append(h("button", {
        type: "button",
        "data-action": "silence",
        onclick: () => {
          if (item.querySelector(".silence-form")) return;
          const form = silenceForm(alert, (created) => {
            form.remove();
            options.formOpen(false);
            if (created) options.reload();
          });
          options.formOpen(true);
          item.append(form);
          form.querySelector("select").focus();
        },
      }, "Silence…"));
    }
    item.append(
      h("div", {},
        h("span", { class: `badge status-${shownState}` }, shownState), " ",
        h("span", { class: `badge severity-${alert.severity}` }, alert.severity), " ",
        h("span", { class: "alert-title" }, alert.alertname), " ",
        jobLink(alert), " ",
        labelChips(alert.labels, ["alertname", "job", "severity", "run_id"]),
        h("div", { class: "alert-meta" }, meta)),
      actions,
      annotations.summary || annotations.description
        ? h("div", { class: "alert-description" }, annotations.description || annotations.summary)
        : null,
    );
    return item;
  }

  function unavailable(container, what) {
    container.replaceChildren(h("p", { class: "notice" }, `${what} is not available on this server (its API answers 404).`));
  }

  /* -- the alerts page ------------------------------------------------------------------- */

  function alertsPage(container) {
    const filterInput = document.querySelector("[data-alerts-filter] input");
    let formsOpen = 0;
    let pending = false;

    function visible(alert) {
      const needle = (filterInput && filterInput.value.trim().toLowerCase()) || "";
      if (!needle) return true;
      const haystack = [alert.alertname, alert.job, ...Object.values(alert.labels || {})].join(" ").toLowerCase();
      return haystack.includes(needle);
    }

    function section(title, id, alerts, silences, empty) {
      return h("section", { class: "panel", id, "aria-label": title },
        h("h2", {}, title, " ", h("span", { class: "section-count" }, `(${alerts.length})`)),
        alerts.length
          ? h("ul", { class: "alert-list" }, alerts.map((alert) => alertItem(alert, silences, {
            actions: true,
            reload: load,
            formOpen: (open) => { formsOpen = Math.max(0, formsOpen + (open ? 1 : -1)); },
          })))
          : h("p", { class: "empty" }, empty));
    }

    function silencesSection(silences) {
      const current = silences.filter((s) => silenceState(s) !== "expired")
        .sort((a, b) => B.format.toSeconds(a.endsAt) - B.format.toSeconds(b.endsAt));
      return h("section", { class: "panel", id: "silences", "aria-label": "Silences" },
        h("h2", {}, "Silences ", h("span", { class: "section-count" }, `(${current.length})`)),
        current.length
          ? h("ul", { class: "alert-list" }, current.map((silence) => h("li", { class: "alert-item", "data-silence-id": silence.id },
            h("div", {},
              h("span", { class: "badge status-silenced" }, silenceState(silence)), " ",
              h("code", {}, (silence.matchers || []).map(matcherText).join(", ")),
              h("div", { class: "alert-meta" }, "ends ", B.timeElement(silence.endsAt), ` · by ${silence.createdBy}`, silence.comment ? ` · ${silence.comment}` : "")),
            h("div", { class: "alert-actions" }, h("button", {
              type: "button",
              class: "danger",
              "data-action": "expire",
              onclick: async (event) => {
                event.target.disabled = true;
                try {
                  await sendJson("DELETE", `silences/${encodeURIComponent(silence.id)}`);
                } catch (failure) {
                  event.target.disabled = false;
                  event.target.title = failure.message;
                  return;
                }
                load();
              },
            }, "Expire")))))
          : h("p", { class: "empty" }, "No active silence."));
    }

    async function load() {
      if (formsOpen) {
        pending = true; // never redraw under someone filling in a silence
        return;
      }
      pending = false;
      let alerts;
      let silences = [];
      try {
        alerts = (await getJson("alerts?state=firing,pending,resolved")).alerts || [];
      } catch (failure) {
        if (failure instanceof Unavailable) unavailable(container, "Alerting");
        else container.replaceChildren(h("p", { class: "notice" }, `Could not load alerts: ${failure.message}`));
        return;
      }
      try {
        silences = silenceList(await getJson("silences"));
      } catch (_) {
        silences = [];
      }
      const shown = alerts.filter(visible);
      const silenced = shown.filter((a) => a.state !== "resolved" && silencedBy(a, silences).length);
      const loud = shown.filter((a) => !silenced.includes(a));
      const by = (key) => (a, b) => (B.format.toSeconds(b[key]) || 0) - (B.format.toSeconds(a[key]) || 0);
      const resolved = loud.filter((a) => a.state === "resolved").sort(by("resolved_at")).slice(0, RESOLVED_SHOWN);
      container.replaceChildren(
        section("Firing", "alerts-firing", loud.filter((a) => a.state === "firing").sort(by("fired_at")), silences, "Nothing is firing."),
        section("Pending", "alerts-pending", loud.filter((a) => a.state === "pending").sort(by("active_at")), silences, "Nothing is pending."),
        section("Silenced", "alerts-silenced", silenced, silences, "No alert is silenced."),
        silencesSection(silences),
        section("Recently resolved", "alerts-resolved", resolved, silences, "Nothing resolved recently."),
      );
    }

    if (filterInput) filterInput.addEventListener("input", () => load());
    B.onRefresh(() => load());
    B.onAlertEvent(() => B.refresh());
    setInterval(() => {
      if (pending && !formsOpen) load();
    }, 1000);
    load();
  }

  /* -- small lists on other pages ------------------------------------------------------------ */

  function alertsWidget(container) {
    const query = container.dataset.query || "";
    const empty = container.dataset.empty || "No alerts.";

    async function load() {
      let alerts;
      try {
        alerts = (await getJson(`alerts?${query}`)).alerts || [];
      } catch (failure) {
        if (failure instanceof Unavailable) unavailable(container, "Alerting");
        else container.replaceChildren(h("p", { class: "notice" }, `Could not load alerts: ${failure.message}`));
        return;
      }
      const order = { firing: 0, pending: 1, resolved: 2 };
      alerts.sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3));
      const shown = alerts.slice(0, 20);
      const list = shown.length
        ? h("ul", { class: "alert-list" }, shown.map((alert) => alertItem(alert, [], { actions: false })))
        : h("p", { class: "empty" }, empty);
      // replaceChildren would write a null as the text "null".
      container.replaceChildren(list, ...(alerts.length ? [h("p", {}, h("a", { href: "ui/alerts" }, "All alerts →"))] : []));
    }

    B.onRefresh(load);
    B.onAlertEvent(() => B.refresh());
    load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const page of document.querySelectorAll("[data-alerts-page]")) alertsPage(page);
    for (const widget of document.querySelectorAll("[data-alerts-widget]")) alertsWidget(widget);
  });
})();
