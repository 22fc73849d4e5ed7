// The board's live updates: each changed row arrives over Server-Sent Events and replaces its old
// place on the board (moving to its new phase). No library: EventSource reconnects by itself.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.EventSource) return;
  var state = document.getElementById("live-state");
  var filters = { priority: board.dataset.priority, region: board.dataset.region, engineer: board.dataset.engineer };

  function shown(row) {
    return Object.keys(filters).every(function (name) {
      return !filters[name] || row.dataset[name] === filters[name];
    });
  }

  function recount() {
    board.querySelectorAll(".column").forEach(function (column) {
      column.querySelector(".count").textContent = column.querySelectorAll("li.job").length;
    });
    if (state) {
      var total = board.querySelectorAll("li.job").length;
      // The page gives the words in its language: "1 job" / "{n} jobs".
      state.textContent = total === 1 ? state.dataset.one : state.dataset.many.replace("{n}", total);
    }
  }

  var source = new EventSource(board.dataset.live);
  source.addEventListener("ready", function () {
    if (state) state.dataset.connected = "yes";
  });
  source.addEventListener("row", function (message) {
    var change = JSON.parse(message.data);
    var old = document.getElementById("job-" + change.job_id);
    if (old) old.remove();
    var list = document.getElementById(change.column);
    var holder = document.createElement("ul");
    holder.innerHTML = change.html.trim();
    var row = holder.firstElementChild;
    if (list && row && shown(row)) {
      row.classList.add("changed");
      list.prepend(row);
    }
    recount();
  });
  source.onerror = function () {
    if (state) state.dataset.connected = "no";
  };
})();
