// bewahr's dashboard: the ingest plots (uPlot), from /ui/admin/series.json,
// drawn when the page loads and again every 30 seconds. The figures are
// also in the page's table, for readers without JavaScript or a screen.
(function () {
  "use strict";
  var el = document.getElementById("ingest-plot");
  if (!el || typeof uPlot === "undefined") { return; }
  var labels = JSON.parse(el.getAttribute("data-labels"));
  var plot = null;
  function width() { return Math.max(320, el.clientWidth - 16); }
  function draw(d) {
    var data = [d.t, d.versions_per_min, d.mb_per_min, d.pending];
    if (plot) { plot.setData(data); return; }
    plot = new uPlot({
      width: width(),
      height: 240,
      series: [
        {},
        { label: labels.versions, stroke: "#0b4f8a", width: 2 },
        { label: labels.mb, stroke: "#14622f", width: 2 },
        { label: labels.pending, stroke: "#7a4d00", width: 2, dash: [6, 4] }
      ],
      axes: [{}, { label: labels.versions + " / " + labels.mb }]
    }, data, el);
    el.setAttribute("data-drawn", "true");
  }
  function load() {
    fetch("/ui/admin/series.json?hours=6", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("series: " + r.status); } return r.json(); })
      .then(draw)
      .catch(function (e) { el.setAttribute("data-error", String(e)); });
  }
  load();
  setInterval(load, 30000);
  window.addEventListener("resize", function () { if (plot) { plot.setSize({ width: width(), height: 240 }); } });
})();
