// Collection page: live progress of ingest jobs (per job and per file), cancel and retry.
// Everything is built with DOM nodes and textContent: file names and errors are never HTML.
"use strict";

(function () {
  const panel = document.getElementById("jobs");
  if (!panel) return;
  const collection = panel.dataset.collection;
  const ACTIVE = new Set(["queued", "running"]);
  // A job that was still running when the server rendered this page may finish before the
  // first poll: remember it, so the page still reloads to list the new documents.
  let sawActive = panel.querySelector(
    'section.job[data-status="queued"], section.job[data-status="running"]') !== null;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function post(url) {
    const token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    const resp = await fetch(url, { method: "POST",
                                    headers: { "Accept": "application/json", "X-CSRFToken": token } });
    if (!resp.ok) {
      let message = "Request failed (" + resp.status + ")";
      try { message = (await resp.json()).error || message; } catch (_) { /* not JSON */ }
      alert(message);
    }
    refresh();
  }

  function renderJob(job) {
    const section = el("section", { "class": "job", "data-job-id": job.id, "data-status": job.status });
    const head = el("div", { "class": "job-head" });
    head.append(
      document.createTextNode("Job " + job.id + " · " + (collection ? "" : job.collection + " · ")),
      el("span", { "class": "job-status" }, job.status + (job.cancel_requested && job.status === "running" ? " (cancelling)" : "")),
      document.createTextNode(" · " + job.finished + "/" + job.total + " files" + (job.failed ? " · " + job.failed + " failed" : "")),
    );
    if (ACTIVE.has(job.status) && !job.cancel_requested) {
      const cancel = el("button", { "type": "button", "class": "danger job-cancel" }, "Cancel");
      cancel.addEventListener("click", () => post("/api/v1/jobs/" + job.id + "/cancel"));
      head.append(" ", cancel);
    }
    if (!ACTIVE.has(job.status) && job.files.some((f) => f.status === "failed" || f.status === "cancelled")) {
      const retry = el("button", { "type": "button", "class": "job-retry" }, "Retry failed files");
      retry.addEventListener("click", () => post("/api/v1/jobs/" + job.id + "/retry"));
      head.append(" ", retry);
    }
    const bar = el("progress", { "max": String(Math.max(job.total, 1)), "value": String(job.finished) });
    const table = el("table", { "class": "grid job-files" });
    const body = el("tbody");
    for (const f of job.files) {
      const row = el("tr", { "class": "file-" + f.status });
      let detail = "";
      if (f.error) detail = f.error;
      else if (f.chunks) detail = f.chunks + " chunks" + (f.version > 1 ? ", version " + f.version : "");
      row.append(el("td", {}, f.name), el("td", { "class": "file-status" }, f.status), el("td", {}, detail));
      body.append(row);
    }
    table.append(body);
    section.append(head, bar, table);
    return section;
  }

  async function refresh() {
    let data;
    try {
      // a collection's page: its jobs; the admin console: every collection's
      const resp = await fetch("/api/v1/jobs" + (collection ? "?collection=" + encodeURIComponent(collection) : ""));
      if (!resp.ok) return;
      data = await resp.json();
    } catch (_) {
      return;
    }
    panel.replaceChildren(...data.jobs.map(renderJob));
    if (!data.jobs.length) panel.append(el("p", { "class": "hint" }, "No ingest jobs yet."));
    const active = data.jobs.some((j) => ACTIVE.has(j.status));
    if (active) {
      sawActive = true;
      setTimeout(refresh, 1000);
    } else if (sawActive) {
      // a job just finished: show the new documents (and keep the page's notice)
      window.location.replace(window.location.pathname + window.location.search);
    }
  }

  refresh();
})();
