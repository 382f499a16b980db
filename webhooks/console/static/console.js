// leadtherm console: forms marked data-live save to the draft as you edit and swap in the
// problems, draft status and preview the server renders. Without JavaScript they post normally.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf");
  // One draft post at a time, in the order the admin made the edits: two posts in flight could
  // reach the server (and come back) in the other order, leaving an older edit in the draft.
  var timers = new Map();  // form -> its debounce timer
  var inFlight = false;
  var queue = [];  // forms waiting to post, oldest edit first, each once: its data is read when sent
  var whenSaved = [];  // what to do once every edit is saved
  var lost = false;  // a post failed since the last time everything was saved

  function swap(html) {
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.firstElementChild;
    if (!fresh || !fresh.id) { return; }
    var old = document.getElementById(fresh.id);
    if (!old) { return; }
    // Keep what the admin has typed into the fragment (the Apply note) across the swap.
    old.querySelectorAll("input[type=text][name]").forEach(function (typed) {
      var twin = fresh.querySelector("input[type=text][name='" + typed.name + "']");
      if (twin) { twin.value = typed.value; }
    });
    old.replaceWith(fresh);
  }

  function saving() { return timers.size > 0 || inFlight || queue.length > 0; }

  function settled() {
    if (saving()) { return; }
    document.body.classList.remove("busy");
    document.body.setAttribute("data-updated", String(Date.now()));
    // After a failed save, a button clicked meanwhile would act on a draft without that edit.
    var run = lost ? [] : whenSaved;
    whenSaved = [];
    lost = false;
    run.forEach(function (action) { action(); });
  }

  function flush(then) {
    whenSaved.push(then);
    timers.forEach(function (timer, form) { clearTimeout(timer); timers.delete(form); send(form); });
    settled();
  }

  // The draft-status fragment (Apply, Discard) may have been swapped while the edits were saved:
  // then submit its fresh copy.
  function resubmit(form, submitter) {
    var button = submitter && submitter.id ? document.getElementById(submitter.id) : submitter;
    var target = button ? button.form : form;
    if (!target || !target.isConnected || (button && button.disabled)) { return; }
    target.requestSubmit(button && button.form === target ? button : undefined);
  }

  function send(form) {
    document.body.classList.add("busy");
    if (inFlight) { if (queue.indexOf(form) < 0) { queue.push(form); } return; }
    inFlight = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),  // read now, so a queued post carries the latest edits
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf }
    }).then(function (response) {
      // 422: the edit was refused (the reason is in the problems fragment); the draft is unchanged.
      if (!response.ok && response.status !== 422) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (parts) {
      ["problems", "status", "preview"].forEach(function (key) { if (parts[key]) { swap(parts[key]); } });
      document.dispatchEvent(new Event("leadtherm:swapped"));
    }).catch(function (error) {
      lost = true;
      var note = document.getElementById("live-error") || document.createElement("p");
      note.id = "live-error";
      note.className = "flash error";
      note.textContent = "Could not save the draft (" + error.message + "); reload the page.";
      document.querySelector("main").prepend(note);
    }).then(function () {
      inFlight = false;
      var next = queue.shift();
      if (next) { send(next); } else { settled(); }
    });
  }

  function later(form, wait) {
    document.body.classList.add("busy");
    if (timers.has(form)) { clearTimeout(timers.get(form)); }
    timers.set(form, setTimeout(function () { timers.delete(form); send(form); }, wait));
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-live")) { event.preventDefault(); send(form); return; }
    if (!saving()) { return; }
    // Typing a number and clicking Apply at once: save that edit first, or Apply acts without it.
    event.preventDefault();
    var submitter = event.submitter;
    flush(function () { resubmit(form, submitter); });
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

// Background jobs (history pull, Learn, what-if, re-scoring): an element with data-job-status
// polls the job's JSON status, shows done/total, and reloads the page once the job has ended.
// Without JavaScript the page refreshes itself (a <noscript> refresh) and shows the same.
(function () {
  "use strict";
  var holder = document.querySelector("[data-job-status]");
  if (!holder) { return; }
  var url = holder.getAttribute("data-job-status");
  var shown = holder.querySelector(".job-progress");
  var bar = holder.querySelector("progress");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        if (shown) { shown.textContent = job.done + (job.total === null ? "" : " of " + job.total); }
        if (bar && job.total) { bar.max = job.total; bar.value = job.done; }
        if (job.state === "done" || job.state === "failed") { window.location.reload(); return; }
        window.setTimeout(poll, 500);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 300);
})();

// The YAML editor's line numbers: one per line of the text, scrolled with it; the lines with a
// problem (from the problems list the server renders) marked in red, with the problem as a tooltip.
(function () {
  "use strict";
  var editor = document.querySelector(".code-editor");
  if (!editor) { return; }
  var text = editor.querySelector("textarea");
  var gutter = editor.querySelector(".gutter");
  var file = editor.getAttribute("data-file");

  function problems() {
    var found = {};
    document.querySelectorAll("#problems li.problem[data-line]").forEach(function (item) {
      var line = item.getAttribute("data-line");
      if (line && item.getAttribute("data-file") === file) {
        found[line] = (found[line] ? found[line] + "; " : "") + item.textContent.replace(/\s+/g, " ").trim();
      }
    });
    return found;
  }

  function number() {
    var count = text.value.split("\n").length;
    var bad = problems();
    var spans = [];
    for (var n = 1; n <= count; n += 1) {
      spans.push(bad[n] ? "<span class=\"bad\" data-line=\"" + n + "\">" + n + "</span>" : "<span>" + n + "</span>");
    }
    gutter.innerHTML = spans.join("");
    Object.keys(bad).forEach(function (line) {
      var mark = gutter.querySelector("span[data-line='" + line + "']");
      if (mark) { mark.title = bad[line]; }
    });
    gutter.scrollTop = text.scrollTop;
  }

  text.addEventListener("input", number);
  text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
  document.addEventListener("leadtherm:swapped", number);
  // A problem's link (#L12) puts the caret on its line, scrolled into view.
  function goTo() {
    var found = /^#L(\d+)$/.exec(window.location.hash);
    if (!found) { return; }
    var lines = text.value.split("\n");
    var line = Math.min(parseInt(found[1], 10), lines.length);
    var start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
    text.focus();
    text.setSelectionRange(start, start + lines[line - 1].length);
    var height = parseFloat(window.getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (line - 5) * height);
  }
  window.addEventListener("hashchange", goTo);
  number();
  goTo();
})();
