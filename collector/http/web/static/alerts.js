/* Alerts: silencing an alert and expiring a silence, on pages the server rendered.
 *
 * The server renders the alerts ([data-alert] items carry what a silence of them matches)
 * and dashboard.js keeps them current. "Silence…" opens a form under its alert; while it is
 * open its region is held (data-hold), so nothing redraws under someone filling it in. A
 * silence is created with POST /silences (Alertmanager's shape) and expired with
 * DELETE /silences/{id}; then the page fetches itself again. URLs are relative to the
 * page's <base> (the server's root, under any route prefix).
 */
"use strict";

(() => {
  const B = window.batchgate;
  const { h } = B;
  const DURATIONS = [
    ["30m", 1800], ["1h", 3600], ["2h", 7200], ["4h", 14400], ["8h", 28800],
    ["1d", 86400], ["3d", 259200], ["1w", 604800],
  ];
  const SILENCER_KEY = "batchgate.silencer";

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

  function matcherText(matcher) {
    const op = matcher.isRegex ? (matcher.isEqual === false ? "!~" : "=~") : (matcher.isEqual === false ? "!=" : "=");
    return `${matcher.name}${op}"${matcher.value}"`;
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
    const form = h("form", { class: "silence-form", "aria-label": `silence ${alert.alertname}`, "data-hold": true });
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

  function openSilenceForm(item) {
    if (item.querySelector(".silence-form")) return;
    const alert = JSON.parse(item.dataset.alert);
    const form = silenceForm(alert, (created) => {
      form.remove();
      if (created) B.refresh();
    });
    item.append(form);
    form.querySelector("select").focus();
  }

  async function expireSilence(item, button) {
    button.disabled = true;
    try {
      await sendJson("DELETE", `silences/${encodeURIComponent(item.dataset.silenceId)}`);
    } catch (failure) {
      button.disabled = false;
      button.title = failure.message;
      return;
    }
    B.refresh();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "silence") {
      const item = button.closest("[data-alert]");
      if (item) openSilenceForm(item);
    } else if (action === "expire") {
      const item = button.closest("[data-silence-id]");
      if (item) expireSilence(item, button);
    }
  });
})();
