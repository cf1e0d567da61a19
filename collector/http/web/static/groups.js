/* Pushgateway groups ([data-groups-page]): built in the browser from GET /api/v1/metrics in
 * the Pushgateway's shape ({status, data: [{labels, last_push_successful,
 * push_time_seconds, push_failure_time_seconds, <family>: {type, help, metrics}}]}, and
 * batchgate_aggregate for a group whose pushes add up), each with a delete button
 * (DELETE /metrics/job/<job>/<label>/<value>..., as the Pushgateway).
 */
"use strict";

(() => {
  const B = window.batchgate;
  const { h } = B;
  const POLL_MS = 10000;
  const META = new Set(["labels", "last_push_successful", "push_time_seconds", "push_failure_time_seconds",
    "batchgate_aggregate"]);

  /* A grouping-key path segment: base64url for values a URL path cannot carry (as the
   * Pushgateway's `@base64` suffix), percent-encoding otherwise. */
  function segment(name, value) {
    if (value === "" || value.includes("/")) {
      const bytes = new TextEncoder().encode(value);
      let binary = "";
      for (const byte of bytes) binary += String.fromCharCode(byte);
      const encoded = btoa(binary).replace(/\+/g, "-").replace(/\//g, "_");
      return `${name}@base64/${encoded || "="}`;
    }
    return `${name}/${encodeURIComponent(value)}`;
  }

  function groupPath(labels) {
    const rest = Object.keys(labels).filter((name) => name !== "job").sort();
    return ["metrics", segment("job", labels.job || ""), ...rest.map((name) => segment(name, labels[name]))].join("/");
  }

  function gaugeValue(family) {
    if (!family || !Array.isArray(family.metrics) || !family.metrics.length) return null;
    const value = Number(family.metrics[0].value);
    return Number.isFinite(value) ? value : null;
  }

  function families(group) {
    return Object.entries(group)
      .filter(([name]) => !META.has(name))
      .map(([name, family]) => ({ name, type: family.type, help: family.help, series: (family.metrics || []).length }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  function groupItem(group, reload) {
    const labels = group.labels || {};
    const pushed = gaugeValue(group.push_time_seconds);
    const failed = gaugeValue(group.push_failure_time_seconds);
    const list = families(group);
    const remove = h("button", {
      type: "button",
      class: "danger",
      "data-action": "delete-group",
      onclick: async () => {
        const name = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(", ");
        if (!window.confirm(`Delete the group {${name}} and its metrics?`)) return;
        remove.disabled = true;
        const response = await fetch(groupPath(labels), { method: "DELETE" });
        if (!response.ok) {
          remove.disabled = false;
          remove.title = `HTTP ${response.status}`;
          return;
        }
        reload();
      },
    }, "Delete");
    return h("li", { class: "group-item", "data-group": JSON.stringify(labels) },
      h("div", {},
        h("span", { class: `badge status-${group.last_push_successful === false ? "failed" : "succeeded"}` },
          group.last_push_successful === false ? "last push failed" : "ok"), " ",
        h("a", { class: "alert-title", href: `ui/jobs/${encodeURIComponent(labels.job || "")}` }, labels.job || "(no job)"), " ",
        group.batchgate_aggregate
          ? [h("span", { class: "badge", "data-aggregates": "", title: "pushes add up (pushgateway.aggregate)" },
            `adds up · gauges: ${group.batchgate_aggregate.gauges}`), " "]
          : "",
        Object.entries(labels).filter(([name]) => name !== "job").sort().map(([name, value]) =>
          h("span", { class: "label" }, h("span", { class: "label-name" }, name), "=", h("span", { class: "label-value" }, value))),
        h("div", { class: "alert-meta" },
          "last push ", pushed ? B.timeElement(pushed) : "—",
          failed ? [" · last failed push ", B.timeElement(failed)] : "",
          ` · ${list.length} metric famil${list.length === 1 ? "y" : "ies"}`)),
      h("div", { class: "alert-actions" }, remove),
      list.length
        ? h("details", { class: "group-families" },
          h("summary", {}, "Metrics"),
          h("table", {}, h("tbody", {}, list.map((family) => h("tr", {},
            h("td", {}, h("code", {}, family.name)),
            h("td", {}, (family.type || "").toLowerCase()),
            h("td", { class: "num" }, `${family.series} series`),
            h("td", { class: "muted" }, family.help || ""))))))
        : null);
  }

  function groupsPage(container) {
    const filterInput = document.querySelector("[data-groups-filter] input");
    const open = new Set();

    async function load() {
      let answer;
      try {
        const response = await fetch("api/v1/metrics", { headers: { Accept: "application/json" }, cache: "no-store" });
        if (response.status === 404) {
          container.replaceChildren(h("p", { class: "notice" }, "Pushgateway compatibility is not available on this server (GET /api/v1/metrics answers 404)."));
          return;
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        answer = await response.json();
      } catch (failure) {
        container.replaceChildren(h("p", { class: "notice" }, `Could not load groups: ${failure.message}`));
        return;
      }
      for (const details of container.querySelectorAll("details[open]")) {
        open.add(details.closest("[data-group]").dataset.group);
      }
      const needle = (filterInput && filterInput.value.trim().toLowerCase()) || "";
      const groups = (answer.data || [])
        .filter((group) => !needle || Object.values(group.labels || {}).join(" ").toLowerCase().includes(needle))
        .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
      const list = groups.length
        ? h("ul", { class: "group-list" }, groups.map((group) => groupItem(group, load)))
        : h("p", { class: "empty" }, needle ? "No group matches." : "No group has been pushed. Point a Pushgateway client at this server, e.g. curl --data-binary @metrics.txt .../metrics/job/backup");
      container.replaceChildren(h("section", { class: "panel" },
        h("h2", {}, "Groups ", h("span", { class: "section-count" }, `(${groups.length})`)), list));
      for (const item of container.querySelectorAll("[data-group]")) {
        if (open.has(item.dataset.group)) item.querySelector("details")?.setAttribute("open", "");
      }
    }

    if (filterInput) {
      // The filter is in the URL (?q=), so the jobs table can link to a job's groups.
      filterInput.value = new URLSearchParams(location.search).get("q") || "";
      filterInput.addEventListener("input", () => {
        const query = filterInput.value.trim();
        history.replaceState(null, "", query ? `ui/groups?q=${encodeURIComponent(query)}` : "ui/groups");
        load();
      });
    }
    B.onRefresh(load);
    setInterval(() => {
      if (document.visibilityState === "visible") load();
    }, POLL_MS);
    load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const page of document.querySelectorAll("[data-groups-page]")) groupsPage(page);
  });
})();
