// The dashboard's management alerts, live: each new alert arrives over Server-Sent Events and goes on
// top of the list. No library: EventSource reconnects by itself.
(function () {
  "use strict";
  var list = document.getElementById("alerts");
  if (!list || !window.EventSource) return;
  var state = document.getElementById("alerts-state");
  var none = document.getElementById("no-alerts");
  var source = new EventSource(list.dataset.live);
  source.addEventListener("ready", function () {
    if (state) state.dataset.connected = "yes";
  });
  source.addEventListener("alert", function (message) {
    var alert = JSON.parse(message.data);
    if (document.getElementById("alert-" + alert.id)) return;
    var holder = document.createElement("ul");
    holder.innerHTML = alert.html.trim();
    var item = holder.firstElementChild;
    if (!item) return;
    item.classList.add("new");
    list.prepend(item);
    if (none) none.hidden = true;
  });
  source.onerror = function () {
    if (state) state.dataset.connected = "no";
  };
})();
