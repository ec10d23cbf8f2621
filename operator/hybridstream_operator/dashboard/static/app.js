// The dashboard page: two views (#/ the list, #/rollout/NS/NAME one rollout), each fed by
// server-sent events; the server builds every value (views.py), this file lays them out.
// No framework and no innerHTML: every text goes through textContent.
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
let source = null;

// h("td", {class: "x"}, "text", child...): an element; null/undefined children are skipped.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function age(iso) {
  if (!iso) return "-";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) return `${Math.floor(s / size)}${unit}`;
  }
  return `${s}s`;
}

function seconds(n) {
  if (n === null || n === undefined) return "-";
  return n >= 60 ? `${Math.floor(n / 60)}m ${Math.round(n % 60)}s` : `${n}s`;
}

// The phase as text plus a shape, so colour is never the only cue.
const PHASE_MARK = {Canary: "◔", Parallel: "◑", Cutover: "◕", Production: "●", Paused: "‖",
                    RollingBack: "↺", RolledBack: "✕", Pending: "○"};
function phase(p) {
  return h("span", {class: `phase phase-${p}`}, h("span", {"aria-hidden": "true"},
    PHASE_MARK[p] || "·"), " ", p);
}

function table(caption, head, rows, empty) {
  if (!rows.length) return h("p", {class: "empty"}, empty);
  return h("table", {}, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}, rows));
}

// Live updates replace nodes; the element that had the keyboard focus gets it back.
function keepFocus(update) {
  const key = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.key : undefined;
  update();
  if (key) {
    const again = [...document.querySelectorAll("[data-key]")].find((e) => e.dataset.key === key);
    if (again) again.focus();
  }
}

function listen(url, render) {
  if (source) source.close();
  source = new EventSource(url);
  source.onmessage = (e) => {
    const data = JSON.parse(e.data);
    live.textContent = data.error ? `error: ${data.error}`
      : `live · updated ${new Date().toLocaleTimeString()}`;
    render(data);
  };
  source.addEventListener("problem", (e) => {
    const error = JSON.parse(e.data).error;
    live.textContent = `error: ${error} (reconnecting)`;
    render({error});
  });
  source.onerror = () => { live.textContent = "disconnected, reconnecting…"; };
}

// ---- the list -------------------------------------------------------------------------
function showList() {
  main.replaceChildren(h("h1", {tabindex: "-1"}, "Rollouts"), h("div", {id: "rows"}));
  listen("/api/rollouts/stream", (data) => {
    if (data.error) {
      document.getElementById("rows").replaceChildren(h("p", {role: "alert"}, data.error));
      return;
    }
    const all = data.namespace === null;
    document.querySelector("h1").textContent =
      all ? "Rollouts in every namespace" : `Rollouts in ${data.namespace}`;
    const rows = data.rows.map((r) => h("tr", {"data-rollout": `${r.namespace}/${r.name}`},
      all ? h("td", {}, r.namespace) : null,
      h("th", {scope: "row"}, h("a", {href: `#/rollout/${r.namespace}/${r.name}`,
                                    "data-key": `${r.namespace}/${r.name}`}, r.name)),
      h("td", {class: "phase-cell"}, phase(r.phase)), h("td", {}, r.step),
      h("td", {}, r.stable), h("td", {}, r.candidate),
      h("td", {}, h("meter", {min: 0, max: 100, value: r.hybridPercent,
                              "aria-hidden": "true"}), ` ${r.hybridPercent}%`),
      h("td", {"data-since": r.created}, age(r.created)),
      h("td", {class: "message"}, r.message)));
    const head = [...(all ? ["Namespace"] : []), "Name", "Phase", "Step", "Stable",
                  "Candidate", "Hybrid", "Age", "Message"];
    keepFocus(() => document.getElementById("rows").replaceChildren(
      table("Rollouts, live", head, rows, "No rollouts here yet.")));
  });
}

// ---- one rollout ----------------------------------------------------------------------
const OWNER_TEXT = {hybrid: "hybrid forwards", legacy: "legacy forwards",
                    both: "both forward (handover)", none: "nobody forwards (gap)"};

// A part of the page the caller may not read says so, in the API server's words.
function refused(problem) {
  return h("p", {role: "alert", class: "error"}, `✕ cannot read: ${problem}`);
}

function routingPicture(r, podsProblem) {
  const bar = h("div", {class: "bar", role: "img",
    "aria-label": r.segments.map((s) => `${s.low} to ${s.high}: ${OWNER_TEXT[s.owner]}`)
      .join("; ")},
    r.segments.map((s) => h("div", {class: `seg seg-${s.owner}`,
      style: `flex-grow:${s.high - s.low}`, title: s.label}, s.high - s.low >= 8 ? s.label : "")));
  return h("div", {},
    h("p", {}, `generation ${r.generation}, mode ${r.mode}: hybrid [0,${r.hybridHigh}), `
      + `legacy [${r.legacyLow},100)`),
    bar, h("div", {class: "scale", "aria-hidden": "true"}, h("span", {}, "0"), h("span", {}, "100")),
    podsProblem ? refused(podsProblem) : table("Pods and the routing generation they acked",
      ["Pod", "Role", "Ready", "Ack"],
      r.pods.map((p) => h("tr", {}, h("th", {scope: "row"}, p.name), h("td", {}, p.role),
        h("td", {}, p.ready), h("td", {class: p.current ? "ok" : "warn"},
          p.current ? "✓ " : "! ", p.acked))), "No stream pods."));
}

function metricsTable(metrics) {
  return table("Analysis of the current step",
    ["Metric", "Kind", "Condition", "Last value", "Of threshold", "Last verdict",
     "pass/fail/held/inconclusive/error/n.a.", "On breach"],
    metrics.map((m) => h("tr", {}, h("th", {scope: "row"}, m.name), h("td", {}, m.kind),
      h("td", {}, m.condition), h("td", {}, m.value),
      h("td", {class: m.near ? "warn" : ""}, m.proximity === null ? "-"
        : `${Math.round(m.proximity * 100)}%${m.near ? " (near threshold)" : ""}`),
      h("td", {class: `verdict verdict-${m.verdict.replace(/ /g, "-")}`}, m.verdict),
      h("td", {}, [m.passed, m.failed, m.held, m.inconclusive, m.errored, m.notApplicable]
        .join("/") + (m.failureLimit === null ? "" : ` (fail limit ${m.failureLimit})`)),
      h("td", {}, m.action))), "No metric measured in this step.");
}

function streamPods(pods) {
  return table("What each stream pod says (/api/hybrid/status via the pod proxy)",
    ["Pod", "Role", "Mode", "Ready", "Sockets", "Subscriptions", "Last event", "Acked", "Forwarded"],
    pods.map((p) => p.error
      ? h("tr", {}, h("th", {scope: "row"}, p.name), h("td", {}, p.role),
          h("td", {colspan: 7, class: "warn"}, `unreachable: ${p.error}`))
      : h("tr", {}, h("th", {scope: "row"}, p.name), h("td", {}, p.role), h("td", {}, p.mode),
          h("td", {}, p.ready),
          h("td", {}, Object.entries(p.sockets).map(([k, v]) => `${k} ${v}`).join(", ") || "-"),
          h("td", {}, p.subscriptions), h("td", {}, p.lastEventAge === null ? "-"
            : `${seconds(p.lastEventAge)} ago`),
          h("td", {}, p.ackedGeneration ?? "-"), h("td", {}, p.forwarded))),
    "No stream pods.");
}

// Orders and executions the stream pods read from the PostgreSQL history, newest first;
// without that sink, or when it cannot be read, the section says so instead.
function history(hist) {
  if (!hist.configured) return h("p", {class: "empty"}, hist.message);
  if (hist.error) {
    return h("p", {role: "alert", class: "error"},
      `✕ ${hist.message}${hist.pod ? ` (asked ${hist.pod})` : ""}: ${hist.error}`);
  }
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "-");
  return h("div", {id: "history"}, h("p", {}, hist.message),
    table("Orders, newest first",
      ["Order", "Symbol", "Side", "Type", "Qty", "Price", "Avg price", "Filled", "Status",
       "Updated"],
      hist.orders.map((o) => h("tr", {}, h("th", {scope: "row"}, o.orderId),
        h("td", {}, o.symbol), h("td", {}, o.side), h("td", {}, o.type ?? "-"),
        h("td", {}, o.qty ?? "-"), h("td", {}, o.price ?? "-"), h("td", {}, o.avgPrice ?? "-"),
        h("td", {}, o.filled ?? "-"), h("td", {title: o.statuses}, o.statuses),
        h("td", {}, time(o.updated)))), "No orders stored."),
    table("Executions, newest first",
      ["Execution", "Order", "Symbol", "Side", "Price", "Qty", "Fee", "When", "Source"],
      hist.executions.map((e) => h("tr", {}, h("th", {scope: "row"}, e.execId),
        h("td", {}, e.orderId), h("td", {}, e.symbol), h("td", {}, e.side),
        h("td", {}, e.price), h("td", {}, e.qty), h("td", {}, e.fee ?? "-"),
        h("td", {}, time(e.at)), h("td", {}, e.source ?? "-"))), "No executions stored."));
}

const ACTION_TEXT = {"promote": "Promote", "promote-full": "Promote to production",
                     "pause": "Pause", "resume": "Resume", "abort": "Abort", "retry": "Retry"};

function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true});
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

async function act(ns, name, action) {
  const reason = document.getElementById("reason").value;
  const result = document.getElementById("result");
  if (action.confirm && !await confirmAction(
      `${ACTION_TEXT[action.kind]} ${ns}/${name}${reason ? ` (reason: ${reason})` : ""}?`)) {
    result.textContent = `${ACTION_TEXT[action.kind]} cancelled.`;
    return;
  }
  try {
    const path = `/api/rollouts/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
    const resp = await fetch(`${path}/actions`, {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({kind: action.kind, reason})});
    const body = await resp.json();
    result.className = resp.ok ? "ok" : "error";
    result.textContent = resp.ok ? `✓ ${body.message}` : `✕ failed: ${body.error}`;
  } catch (err) {
    result.className = "error";
    result.textContent = `✕ failed: ${err}`;
  }
}

function actions(ns, name, list) {
  return h("section", {"aria-labelledby": "actions-title"},
    h("h2", {id: "actions-title"}, "Actions"),
    h("label", {for: "reason"}, "Reason (recorded with the intent) "),
    h("input", {id: "reason", type: "text", maxlength: 500, autocomplete: "off"}),
    h("div", {class: "buttons"}, list.map((a) => h("button", {type: "button",
      "data-action": a.kind, class: a.confirm ? "danger" : "",
      onclick: () => act(ns, name, a)}, ACTION_TEXT[a.kind] + (a.confirm ? "…" : "")))),
    h("p", {id: "result", role: "status", "aria-live": "polite"}));
}

function section(id, title, ...body) {
  return h("section", {"aria-labelledby": id}, h("h2", {id}, title), ...body);
}

function showRollout(ns, name) {
  main.replaceChildren(h("h1", {tabindex: "-1"}, `${ns}/${name}`), h("div", {id: "detail"},
    h("p", {}, "loading…")));
  let acts = null;
  const path = `/api/rollouts/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
  listen(`${path}/stream`, (d) => {
    const target = document.getElementById("detail");
    if (d.error) { target.replaceChildren(h("p", {role: "alert"}, d.error)); acts = null; return; }
    // The actions keep their node (the reason typed, the focus, the last result) while
    // the summary above and the sections below refresh.
    if (!acts) {
      acts = actions(ns, name, d.actions);
      target.replaceChildren(h("div", {id: "summary"}), acts, h("div", {id: "sections"}));
    }
    const r = d.row;
    const summary = h("dl", {class: "summary"},
      h("dt", {}, "Phase"), h("dd", {id: "phase"}, phase(r.phase),
        d.pausedFrom ? ` (from ${d.pausedFrom})` : ""),
      h("dt", {}, "Step"), h("dd", {}, r.step),
      h("dt", {}, "Hybrid"), h("dd", {}, `${r.hybridPercent}%`),
      h("dt", {}, "Stable revision"), h("dd", {}, r.stable),
      h("dt", {}, "Candidate revision"), h("dd", {}, r.candidate),
      h("dt", {}, "Replicas"), h("dd", {}, `stable ${d.replicas.stable}, candidate ${d.replicas.candidate}`),
      h("dt", {}, "Rollbacks"), h("dd", {}, d.rollbacks),
      h("dt", {}, "Message"), h("dd", {}, r.message || "-"));
    const failure = d.lastFailure
      ? h("p", {role: "alert", class: "error"}, `✕ ${d.lastFailure.source} ${d.lastFailure.name}`
          + `${d.lastFailure.value ? ` = ${d.lastFailure.value}` : ""} → ${d.lastFailure.action}: `
          + `${d.lastFailure.message} (${age(d.lastFailure.at)} ago)`)
      : h("p", {}, "None.");
    keepFocus(() => document.getElementById("summary").replaceChildren(summary));
    keepFocus(() => document.getElementById("sections").replaceChildren(
      section("timeline-title", "Phase timeline", h("ol", {class: "timeline"},
        d.timeline.map((t) => h("li", {class: t.current ? "current" : ""},
          phase(t.phase), t.stepIndex === null ? "" : ` step ${t.stepIndex + 1}`,
          ` · ${new Date(t.at).toLocaleTimeString()} · ${seconds(t.seconds)}`,
          t.current ? " (now)" : "", h("span", {class: "reason"}, ` ${t.reason}`))))),
      section("routing-title", "Routing split", routingPicture(d.routing, d.problems.pods)),
      section("metrics-title", "Analysis", metricsTable(d.metrics)),
      section("failure-title", "Last failure", failure),
      section("pods-title", "Stream pods",
        d.problems.pods ? refused(d.problems.pods) : streamPods(d.streamPods)),
      section("events-title", "Recent events", d.problems.events ? refused(d.problems.events)
        : table("Events, newest first",
        ["When", "Type", "Reason", "Message"], d.events.map((e) => h("tr", {},
          h("td", {}, `${age(e.at)} ago`), h("td", {}, e.type), h("td", {}, e.reason),
          h("td", {}, e.count > 1 ? `${e.message} (×${e.count})` : e.message))),
        "No events.")),
      section("history-title", "Orders and executions (PostgreSQL history)",
        history(d.history))));
  });
}

function route() {
  const m = location.hash.match(/^#\/rollout\/([^/]+)\/([^/]+)$/);
  if (m) showRollout(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  else showList();
  main.querySelector("h1").focus();
}

// Ages move on between updates.
setInterval(() => {
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = age(el.dataset.since);
}, 1000);
window.addEventListener("hashchange", route);
route();
