// Statistics charts, drawn by the vendored Frappe Charts from the numbers the page carries.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const holder = document.getElementById("chart-data");
    if (!holder || !window.frappe) return;
    const data = JSON.parse(holder.textContent);
    const statuses = ["in_review", "succeeded", "failed", "cancelled"];
    const colors = ["#f9a825", "#1e8e3e", "#c5221f", "#78909c"];
    function datasets(rows, pick) {
      return statuses.map(function (s) {
        return { name: data.labels[s], values: rows.map(function (r) { return pick(r, s); }) };
      });
    }
    // Our own legend, which wraps (app.css hides the charts' own, cut off on a phone).
    function legend(chartId) {
      const list = document.createElement("ul");
      list.className = "legend";
      statuses.forEach(function (s, i) {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.setAttribute("aria-hidden", "true");
        swatch.style.backgroundColor = colors[i];
        item.append(swatch, document.createTextNode(data.labels[s]));
        list.append(item);
      });
      document.getElementById(chartId).after(list);
    }
    const common = { type: "bar", height: 240, colors: colors, barOptions: { stacked: 1, spaceRatio: 0.4 },
                     axisOptions: { xIsSeries: 0 }, animate: 0 };
    new frappe.Chart("#chart-days", Object.assign({}, common, {
      data: { labels: data.days.map(function (d) { return d.day.slice(5); }),
              datasets: datasets(data.days, function (r, s) { return r[s]; }) },
    }));
    new frappe.Chart("#chart-platforms", Object.assign({}, common, {
      data: { labels: data.platforms.map(function (p) { return p.platform; }),
              datasets: datasets(data.platforms, function (r, s) { return r.by_status[s]; }) },
    }));
    legend("chart-days");
    legend("chart-platforms");
  });
})();
