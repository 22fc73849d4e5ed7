// The signing widget (templates/_signature.html) on signature_pad: each [data-signature] box keeps the
// drawing as a PNG data URL in its hidden input, which the form posts. The service decides what is a
// valid signature (not blank, not too large); this only draws and hands the image over.
(function () {
  "use strict";
  // The exported image is at most this wide: a phone's 3x screen would give a needlessly large PNG.
  var EXPORT_MAX_WIDTH = 900;

  function setUp(box) {
    var canvas = box.querySelector("canvas");
    var image = box.querySelector("input[data-signature-image]");
    var clear = box.querySelector("[data-signature-clear]");
    var state = box.querySelector("[data-signature-state]");
    // A transparent background: a blank pad gives a PNG with no drawn pixel, which the service refuses.
    var pad = new window.SignaturePad(canvas, { backgroundColor: "rgba(0,0,0,0)", penColor: "#10233f", minWidth: 1, maxWidth: 3 });
    var width = 0;

    function show() {
      var signed = !pad.isEmpty();
      if (state) {
        state.textContent = signed ? state.dataset.signed : state.dataset.empty;
        state.classList.toggle("signed", signed);
      }
    }

    function exported() {
      if (pad.isEmpty()) { return ""; }
      if (canvas.width <= EXPORT_MAX_WIDTH) { return canvas.toDataURL("image/png"); }
      var copy = document.createElement("canvas");
      copy.width = EXPORT_MAX_WIDTH;
      copy.height = Math.round(canvas.height * EXPORT_MAX_WIDTH / canvas.width);
      copy.getContext("2d").drawImage(canvas, 0, 0, copy.width, copy.height);
      return copy.toDataURL("image/png");
    }

    // A new drawing answers the refusal shown beside the box; the service checks it again when sent.
    function keep() {
      image.value = exported();
      show();
      if (box.classList.contains("invalid") && !pad.isEmpty()) {
        box.classList.remove("invalid");
        var error = box.querySelector(".field-error[id$='-image-error']");
        if (error) { error.hidden = true; }
        canvas.setAttribute("aria-describedby", canvas.getAttribute("aria-describedby").replace(/ \S+-image-error$/, ""));
      }
    }

    // The drawing buffer matches the box at the screen's pixel density; after a resize (a phone
    // turned) the strokes are drawn again at the new size.
    function resize() {
      if (canvas.offsetWidth === width) { return; }
      width = canvas.offsetWidth;
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var strokes = pad.toData();
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      if (strokes.length) {
        pad.fromData(strokes);
        // The strokes drawn again are the signature now: the image the form holds follows them.
        image.value = exported();
      }
    }

    resize();
    window.addEventListener("resize", resize);
    pad.addEventListener("endStroke", keep);
    clear.addEventListener("click", function () { pad.clear(); image.value = ""; show(); });
    var form = box.closest("form");
    if (form) { form.addEventListener("submit", function () { if (!pad.isEmpty()) { image.value = exported(); } }); }

    // After a refusal the page hands back what was drawn: show it again.
    if (image.value) {
      pad.fromDataURL(image.value, { ratio: 1, width: canvas.offsetWidth, height: canvas.offsetHeight })
        .then(show, function () { image.value = ""; show(); });
    }
    show();
  }

  document.querySelectorAll("[data-signature]").forEach(setUp);
})();
