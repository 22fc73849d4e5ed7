// The engineer's job hub: a live SLA warning while the commitment is typed, and diagnosis photos
// uploaded from the phone straight to the object store (a presigned POST form from maintenance, through the
// console). The API still decides: its refusal is shown beside the field after sending.
(function () {
  "use strict";

  // The page's words in its language (field_job.html), English when a page gives none.
  var holder = document.getElementById("field-texts");
  var T = holder ? JSON.parse(holder.textContent) : {};
  function text(key, english) { return T[key] || english; }

  // datetime-local values ("2030-01-07T14:00") in the same zone compare as text.
  function minute(value) { return (value || "").slice(0, 16); }

  function slaMessage(input) {
    var value = minute(input.value);
    if (!value) { return ""; }
    var max = minute(input.dataset.slaMax);
    var min = minute(input.dataset.slaMin);
    var after = input.dataset.slaAfter ? document.getElementById(input.dataset.slaAfter) : null;
    if (min && value <= min) { return text("past", "This is in the past: the commitment must be later than now."); }
    if (after && minute(after.value) && value < minute(after.value)) {
      return text("order", "Resolve-by cannot be before on-site-by.");
    }
    if (max && value > max) {
      var outside = input.dataset.slaWhat === "resolve"
        ? text("outside_resolve", "Outside the SLA policy: this job must be resolved by {time}.")
        : text("outside_arrive", "Outside the SLA policy: this job must be on site by {time}.");
      return outside.replace("{time}", input.dataset.slaText);
    }
    return "";
  }

  function checkSla(input) {
    var warning = document.getElementById(input.id + "-warning");
    if (warning) { warning.textContent = slaMessage(input); }
  }

  var slaInputs = document.querySelectorAll("input[data-sla-max]");
  slaInputs.forEach(function (input) {
    ["input", "change"].forEach(function (kind) {
      input.addEventListener(kind, function () { slaInputs.forEach(checkSla); });
    });
    // After a refusal the API's own message is beside the field already.
    if (input.value && input.getAttribute("aria-invalid") !== "true") { checkSla(input); }
  });

  // Photos: ask the console for an upload URL, PUT the file there, then keep its key in the form.
  var box = document.querySelector(".field.photos[data-upload-url]");
  if (!box) { return; }
  var picker = box.querySelector("input[type=file]");
  var list = box.querySelector(".photo-list");
  var form = box.closest("form");
  var submit = form.querySelector("button[type=submit]");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var pending = 0;

  function busy(delta) {
    pending += delta;
    submit.disabled = pending > 0;
    submit.textContent = pending > 0 ? text("uploading_photos", "Uploading photos…") : text("record_diagnosis", "Record the diagnosis");
  }

  // The upload form is a presigned POST policy: every field as given, then the file, which must come last.
  // The store takes only the key, the content type and the size the policy names.
  function uploadForm(answer, file) {
    var form = new FormData();
    Object.keys(answer.fields || {}).forEach(function (name) { form.append(name, answer.fields[name]); });
    form.append("file", file);
    return form;
  }

  async function upload(file, item, status) {
    var type = file.type || "image/jpeg";
    var asked = await fetch(box.dataset.uploadUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ file_name: file.name || "photo.jpg", content_type: type })
    });
    var answer = await asked.json().catch(function () { return {}; });
    if (!asked.ok) { throw new Error(answer.message || text("upload_refused", "The upload was refused ({status}).").replace("{status}", asked.status)); }
    var put = await fetch(answer.upload_url, { method: "POST", body: uploadForm(answer, file) });
    if (!put.ok) { throw new Error(text("store_refused", "The object store refused the photo ({status}).").replace("{status}", put.status)); }
    await put.text();  // read to the end: a form sent at once must not cut the upload's answer short
    var key = document.createElement("input");
    key.type = "hidden";
    key.name = "photo_keys";
    key.value = answer.photo_key;
    item.appendChild(key);
    status.textContent = " " + text("uploaded", "uploaded");
    item.dataset.photoKey = answer.photo_key;
  }

  picker.addEventListener("change", function () {
    Array.prototype.forEach.call(picker.files, function (file) {
      var item = document.createElement("li");
      var name = file.name || "photo";
      if (window.URL && URL.createObjectURL) {
        var thumb = document.createElement("img");
        thumb.src = URL.createObjectURL(file);
        thumb.alt = text("photo", "Photo {name}").replace("{name}", name);
        item.appendChild(thumb);
      }
      var label = document.createElement("span");
      label.className = "photo-name";
      label.textContent = name;
      var status = document.createElement("span");
      status.className = "photo-status";
      status.textContent = " " + text("uploading", "uploading…");
      item.appendChild(label);
      item.appendChild(status);
      list.appendChild(item);
      busy(1);
      upload(file, item, status).catch(function (error) {
        item.classList.add("failed");
        status.textContent = " " + text("not_uploaded", "not uploaded: {reason}").replace("{reason}", error.message);
      }).finally(function () { busy(-1); });
    });
    picker.value = "";
  });
})();
