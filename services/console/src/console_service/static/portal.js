// A customer's job page follows the job live: each change arrives over Server-Sent Events with the
// page's live part (#job-live) rendered again by the portal. No library: EventSource reconnects by itself.
(function () {
  "use strict";
  var live = document.getElementById("job-live");
  if (!live || !window.EventSource) return;
  var state = document.getElementById("live-state");
  var source = new EventSource(live.dataset.live);
  source.addEventListener("ready", function () {
    if (state) state.dataset.connected = "yes";
  });
  source.addEventListener("job", function (message) {
    var change = JSON.parse(message.data);
    live.innerHTML = change.html;
    live.dataset.updates = String(Number(live.dataset.updates || "0") + 1);
  });
  source.onerror = function () {
    if (state) state.dataset.connected = "no";
  };
})();
