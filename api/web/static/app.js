// medsieve dashboard: live progress (polls the JSON API with the session cookie), image fallbacks, confirm
// prompts. No framework, no build step. Everything shown is set with textContent, never parsed as HTML.
"use strict";

(function () {
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  const POLL_MS = 1000;

  function fmtInt(n) { return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"); }
  function fmtRate(v) { return v === null || v === undefined ? "—" : v.toLocaleString("en-US", {minimumFractionDigits: 1, maximumFractionDigits: 1}) + " items/s"; }
  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return "—";
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m) return m + "m " + String(sec).padStart(2, "0") + "s";
    return sec + "s";
  }
  function fmtWhen(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function setText(scope, field, text) {
    scope.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) { el.textContent = text; });
  }

  function update(scope, job) {
    const c = job.counts || {
      items_total: job.items_total, items_succeeded: job.items_succeeded, items_failed: job.items_failed,
    };
    const done = (c.items_succeeded || 0) + (c.items_failed || 0);
    const total = c.items_total;
    scope.querySelectorAll('[data-field="status"]').forEach(function (el) {
      el.textContent = job.status;
      el.className = "badge status-" + job.status;
    });
    scope.querySelectorAll('[data-field="bar"]').forEach(function (bar) {
      bar.className = "bar status-" + job.status;
      if (total === null || total === undefined) {
        bar.removeAttribute("value");
      } else {
        bar.max = 100;
        bar.value = total === 0 ? (TERMINAL.has(job.status) ? 100 : 0) : Math.min(100, 100 * done / total);
      }
    });
    setText(scope, "bar_text", fmtInt(done) + " / " + (total === null || total === undefined ? "?" : fmtInt(total)));
    setText(scope, "items_succeeded", fmtInt(c.items_succeeded));
    setText(scope, "items_failed", fmtInt(c.items_failed));
    if (job.counts) {
      setText(scope, "items_total", total === null ? "counting…" : fmtInt(total));
      setText(scope, "items_ingested", fmtInt(c.items_ingested));
      setText(scope, "items_pending", fmtInt(c.items_pending));
    }
    if (job.shards) {
      setText(scope, "shards_total", job.shards.total === null ? "counting…" : fmtInt(job.shards.total));
      setText(scope, "shards_created", fmtInt(job.shards.created));
      setText(scope, "shards_done", fmtInt(job.shards.done));
      const states = Object.keys(job.shards.by_status).sort();
      setText(scope, "shards_by_status", states.length ? states.map(function (k) { return k + " " + job.shards.by_status[k]; }).join(" · ") : "—");
    }
    if ("throughput_items_per_s" in job) setText(scope, "throughput", fmtRate(job.throughput_items_per_s));
    if ("eta_s" in job) setText(scope, "eta", fmtDuration(job.eta_s));
    setText(scope, "started_at", fmtWhen(job.started_at));
    setText(scope, "finished_at", fmtWhen(job.finished_at));
  }

  function watch(el) {
    const id = el.getAttribute("data-job");
    const scope = el.getAttribute("data-live") === "page" ? document : el;
    let failures = 0;
    async function tick() {
      try {
        const resp = await fetch("/v1/jobs/" + encodeURIComponent(id), {credentials: "same-origin", headers: {Accept: "application/json"}});
        if (resp.status === 401) { window.location.assign("/ui/login?next=" + encodeURIComponent(location.pathname)); return; }
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        const job = await resp.json();
        failures = 0;
        update(scope, job);
        el.setAttribute("data-status", job.status);
        if (TERMINAL.has(job.status)) {
          // The job page shows results, errors and provenance once the job has ended: load them.
          if (scope === document) setTimeout(function () { window.location.reload(); }, 300);
          return;
        }
      } catch (err) {
        failures += 1;
      }
      setTimeout(tick, POLL_MS * Math.min(10, 1 + failures));
    }
    setTimeout(tick, POLL_MS);
  }

  function fallback(img) {
    const alt = img.getAttribute("data-fallback");
    if (alt && img.getAttribute("src") !== alt) {
      img.removeAttribute("data-fallback");
      img.classList.add("placeholder");
      img.src = alt;
    }
  }

  // error events do not bubble, but they can be caught on the way down.
  document.addEventListener("error", function (ev) {
    const t = ev.target;
    if (t && t.tagName === "IMG" && t.hasAttribute("data-fallback")) fallback(t);
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("img[data-fallback]").forEach(function (img) {
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("loading") !== "lazy") fallback(img);
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
    document.querySelectorAll("[data-job][data-status]").forEach(function (el) {
      if (!TERMINAL.has(el.getAttribute("data-status"))) watch(el);
    });
  });
})();
