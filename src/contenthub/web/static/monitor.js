// The live task monitor: one EventSource on /api/v1/events (the signed-in session's own
// tasks), resumable by the browser with Last-Event-ID. Each event updates its row in place;
// a status change fetches the row again (its links, errors and buttons follow from it).
(function () {
  "use strict";
  const table = document.getElementById("tasks");
  const page = document.getElementById("task-page");
  const root = table || page;
  if (!root || !window.EventSource) return;
  const live = document.getElementById("live");
  const labels = {};
  document.querySelectorAll("#labels span").forEach(function (s) {
    labels[s.dataset.status] = s.textContent;
  });

  function setLive(on) {
    if (!live) return;
    live.textContent = on ? live.dataset.on : live.dataset.off;
    live.classList.toggle("off", !on);
  }

  function fetchInto(url, place) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (!html) return;
        const holder = document.createElement("template");
        holder.innerHTML = html.trim();
        const fresh = holder.content.firstElementChild;
        if (!fresh) return;
        place(fresh);
        if (window.htmx) htmx.process(fresh);
        if (window.contenthub) window.contenthub.enhance(fresh);
      });
  }

  function refreshRow(taskId, existing) {
    fetchInto("/tasks/" + encodeURIComponent(taskId) + "/row", function (fresh) {
      const current = document.getElementById("task-" + taskId);
      if (current) current.replaceWith(fresh);
      else if (!existing) {
        document.getElementById("task-rows").prepend(fresh);
        const empty = document.getElementById("tasks-empty");
        if (empty) empty.hidden = true;
      }
    });
  }

  function onTableEvent(ev) {
    const row = document.getElementById("task-" + ev.task_id);
    if (!row) {
      if (table.dataset.acceptNew === "1") refreshRow(ev.task_id, false);
      return;
    }
    if (ev.progress !== null && ev.progress !== undefined) {
      const bar = row.querySelector("[data-role=progress]");
      if (bar) bar.value = ev.progress;
    }
    if (ev.stage) {
      const stage = row.querySelector("[data-role=stage]");
      if (stage) stage.textContent = ev.stage;
    }
    if (ev.to_status) {
      row.dataset.status = ev.to_status;
      const badge = row.querySelector("[data-role=status]");
      if (badge) {
        badge.textContent = labels[ev.to_status] || ev.to_status;
        badge.className = "badge s-" + ev.to_status;
      }
      refreshRow(ev.task_id, true);
    }
  }

  function onPageEvent(ev) {
    const holder = document.getElementById("task-live");
    if (!holder || holder.dataset.task !== ev.task_id) return;
    fetchInto("/tasks/" + encodeURIComponent(ev.task_id), function (fresh) {
      document.getElementById("task-live").replaceWith(fresh);
    });
  }

  const stream = new EventSource("/api/v1/events?after=" + encodeURIComponent(root.dataset.after || "0"));
  stream.onopen = function () { setLive(true); };
  stream.onerror = function () { setLive(false); };
  stream.addEventListener("task", function (message) {
    const ev = JSON.parse(message.data);
    if (table) onTableEvent(ev); else onPageEvent(ev);
  });
})();
