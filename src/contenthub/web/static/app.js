// contenthub dashboard: small progressive enhancements (no build step).
(function () {
  "use strict";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";

  // htmx: swap validation answers (422) and limits (429) in place, so errors show beside fields.
  document.addEventListener("htmx:configRequest", function () {});
  function configure() {
    if (!window.htmx) return;
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "429", swap: true },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  function localTimes(root) {
    const format = new Intl.DateTimeFormat(document.documentElement.lang, {
      dateStyle: "short", timeStyle: "medium",
    });
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      const at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at)) { el.textContent = format.format(at); el.title = el.getAttribute("datetime"); }
    });
  }

  function fillZones(root) {
    root.querySelectorAll("input[data-tz]").forEach(function (el) { if (!el.value) el.value = zone; });
    root.querySelectorAll("[data-tz-label]").forEach(function (el) { el.textContent = "(" + zone + ")"; });
  }

  function enhance(root) { localTimes(root); fillZones(root); }
  window.contenthub = { enhance: enhance };

  // <input data-select-on-focus>: the whole value selected, ready to copy (a new token).
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("input[data-select-on-focus]")) event.target.select();
  });

  // <select data-autosubmit>: choosing sends its form (no inline handlers: the page's CSP).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });

  document.addEventListener("click", function (event) {
    const opener = event.target.closest("[data-dialog]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialog);
      if (dialog) { dialog.showModal(); const first = dialog.querySelector("input, button, select"); if (first) first.focus(); }
      return;
    }
    const closer = event.target.closest("[data-close]");
    if (closer) { const dialog = closer.closest("dialog"); if (dialog) dialog.close(); }
  });

  document.addEventListener("DOMContentLoaded", function () { configure(); enhance(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.target.parentNode || document); });
})();
