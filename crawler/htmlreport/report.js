// microscout report: draws the charts (vega-embed, inlined above) and sorts the tables.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  window.microscoutViews = {};
  var drawn = Object.keys(specs).map(function (id) {
    return vegaEmbed("#" + id, specs[id], {renderer: "svg", actions: false}).then(function (result) {
      window.microscoutViews[id] = result.view;
    });
  });
  Promise.all(drawn).then(function () {
    document.body.setAttribute("data-charts", "ready");
  }).catch(function (error) {
    document.body.setAttribute("data-charts", "failed");
    console.error("microscout report: a chart failed to draw", error);
  });

  function key(cell, numeric) {
    var value = cell.getAttribute("data-sort");
    if (value === null) { value = cell.textContent.trim(); }
    if (!numeric) { return value.toLowerCase(); }
    return value === "" ? null : Number(value);
  }

  function sortBy(table, index, header) {
    var descending = header.getAttribute("aria-sort") !== "descending";
    var numeric = header.classList.contains("num");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
      if (x === y) { return 0; }
      if (x === null) { return 1; }  // empty cells last either way
      if (y === null) { return -1; }
      return (x < y ? -1 : 1) * (descending ? -1 : 1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      if (header.classList.contains("nosort")) { return; }
      header.tabIndex = 0;
      header.title = "sort";
      header.addEventListener("click", function () { sortBy(table, index, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, index, header); }
      });
    });
  });
})();
