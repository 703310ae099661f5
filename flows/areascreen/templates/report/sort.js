document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, index) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var cell = row.cells[index];
        return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort")
          : cell.textContent.trim();
      };
      var numeric = rows.every(function (row) {
        var k = key(row);
        return k === "" || !isNaN(Number(k));
      });
      var value = function (row) {
        var k = key(row);
        if (!numeric) { return k; }
        return k === "" ? Number.NEGATIVE_INFINITY : Number(k);
      };
      rows.sort(function (a, b) {
        var x = value(a), y = value(b);
        var order = numeric ? (x < y ? -1 : (x > y ? 1 : 0)) : String(x).localeCompare(y, "sv");
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
