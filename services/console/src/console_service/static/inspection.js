// The inspection form: pass or fail beside each reading as it is typed, from the limits rendered into
// the field's data-min / data-max (inclusive, as quality judges them). Quality's verdict is the one
// recorded; this only spares the inspector a surprise. A sent form's button is disabled (the console
// acts once per form anyway).
(function () {
  "use strict";
  var form = document.getElementById("inspection-form");
  if (!form) return;

  function limit(text) {
    return text === "" || text === undefined ? null : Number(text);
  }

  function reading(text) {
    var cleaned = text.trim().replace(",", ".");
    if (cleaned === "") return null;
    var value = Number(cleaned);
    return isFinite(value) ? value : NaN;
  }

  // The page's words in its language (inspection_form.html), English when a page gives none.
  var holder = document.getElementById("inspection-texts");
  var T = holder ? JSON.parse(holder.textContent) : {};
  function words(key, english) { return T[key] || english; }

  function show(field) {
    var input = field.querySelector("input[type=text]");
    var output = field.querySelector("output.verdict");
    var low = limit(field.dataset.min), high = limit(field.dataset.max), unit = field.dataset.unit;
    var value = reading(input.value);
    var state, text;
    if (value === null) {
      state = ""; text = words("not_read", "Not read yet");
    } else if (isNaN(value)) {
      state = "unknown"; text = words("not_number", "Not a number");
    } else if (low !== null && value < low) {
      state = "fail"; text = words("below", "Fail: below min {limit} {unit}").replace("{limit}", low).replace("{unit}", unit);
    } else if (high !== null && value > high) {
      state = "fail"; text = words("above", "Fail: above max {limit} {unit}").replace("{limit}", high).replace("{unit}", unit);
    } else {
      state = "pass"; text = words("pass", "Pass: within limits");
    }
    output.textContent = text;
    field.dataset.verdict = state;
  }

  form.querySelectorAll(".indicator").forEach(function (field) {
    var input = field.querySelector("input[type=text]");
    input.addEventListener("input", function () { show(field); });
    show(field);
  });

  form.addEventListener("submit", function () {
    var button = form.querySelector("button[type=submit]");
    window.setTimeout(function () { button.disabled = true; button.textContent = words("recording", "Recording…"); }, 0);
  });
})();
