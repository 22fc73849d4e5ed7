// The portal's request form: photos of the fault go from the browser straight to intake's object store
// (a presigned URL asked through the portal), and only their keys are sent with the form. Intake still
// checks each key when the request is sent; its refusal is shown beside the field.
(function () {
  "use strict";
  var box = document.querySelector(".field.photos[data-upload-url]");
  if (!box) { return; }
  var holder = document.getElementById("photo-texts");
  var T = holder ? JSON.parse(holder.textContent) : {};
  function text(key, english) { return T[key] || english; }

  var picker = box.querySelector("input[type=file]");
  var list = box.querySelector(".photo-list");
  var form = box.closest("form");
  var submit = form.querySelector("button[type=submit]");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var max = Number(box.dataset.max || "6");
  var pending = 0;

  function busy(delta) {
    pending += delta;
    submit.disabled = pending > 0;
    submit.textContent = pending > 0 ? text("uploading_photos", "Uploading photos…") : text("send", "Send request");
    box.dataset.pending = String(pending);
  }

  function removable(item) {
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove secondary";
    remove.textContent = text("remove", "Remove");
    remove.addEventListener("click", function () { item.remove(); });
    item.appendChild(remove);
  }

  function kept() { return list.querySelectorAll("input[name=photo_keys]").length; }

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
    if (!asked.ok) { throw new Error(answer.message || text("store_refused", "The photo could not be stored ({status}).").replace("{status}", asked.status)); }
    var put = await fetch(answer.upload_url, { method: "POST", body: uploadForm(answer, file) });
    if (!put.ok) { throw new Error(text("store_refused", "The photo could not be stored ({status}).").replace("{status}", put.status)); }
    await put.text();  // read to the end: a form sent at once must not cut the upload's answer short
    var key = document.createElement("input");
    key.type = "hidden";
    key.name = "photo_keys";
    key.value = answer.photo_key;
    item.appendChild(key);
    item.dataset.photoKey = answer.photo_key;
    status.textContent = text("uploaded", "uploaded");
  }

  list.querySelectorAll("li[data-photo-key]").forEach(removable);

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
      var words = document.createElement("span");
      words.className = "photo-text";
      var label = document.createElement("span");
      label.className = "photo-name";
      label.textContent = name;
      var status = document.createElement("span");
      status.className = "photo-status";
      words.appendChild(label);
      words.appendChild(status);
      item.appendChild(words);
      list.appendChild(item);
      if (kept() + pending >= max) {
        item.classList.add("failed");
        status.textContent = text("too_many", "At most 6 photos per request.");
        removable(item);
        return;
      }
      status.textContent = text("uploading", "uploading…");
      busy(1);
      upload(file, item, status).catch(function (error) {
        item.classList.add("failed");
        status.textContent = text("not_uploaded", "not uploaded: {reason}").replace("{reason}", error.message);
      }).finally(function () { busy(-1); removable(item); });
    });
    picker.value = "";
  });
})();
