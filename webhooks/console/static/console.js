// leadtherm console: forms marked data-live save to the draft as you edit and swap in the
// problems, draft status and preview the server renders. Without JavaScript they post normally.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf");
  var pending = null;

  function swap(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.firstElementChild;
    if (!fresh || !fresh.id) { return; }
    var old = document.getElementById(fresh.id);
    if (old) { old.replaceWith(fresh); }
  }

  function send(form) {
    var body = new FormData(form);
    document.body.classList.add("busy");
    return fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf }
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (parts) {
      ["problems", "status", "preview"].forEach(function (key) { if (parts[key]) { swap(parts[key]); } });
      document.body.classList.remove("busy");
      document.body.setAttribute("data-updated", String(Date.now()));
    }).catch(function (error) {
      document.body.classList.remove("busy");
      var note = document.getElementById("live-error") || document.createElement("p");
      note.id = "live-error";
      note.className = "flash error";
      note.textContent = "Could not save the draft (" + error.message + "); reload the page.";
      document.querySelector("main").prepend(note);
    });
  }

  function later(form, wait) {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; send(form); }, wait);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-live")) { event.preventDefault(); send(form); }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-live")) { later(form, 50); }
  });
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-live-input")) { later(form, 400); }
  });
})();
