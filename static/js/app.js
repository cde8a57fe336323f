// Small progressive enhancements; the site works without this file.
//
// 1. A character counter under every comment box (textarea[data-max-length]): hidden until the
//    text reaches 80% of the limit, then "n of 10,000 characters", and a warning past the limit.
//    The server still refuses an over-long comment with its own message; the counter only says
//    so before the reader presses Post (the box has no maxlength, which would cut a paste short).
// 2. Cancel on a reply or edit form ([data-draft-guard], an htmx link that closes the form in
//    place): when the box holds a changed draft, the form asks first, in the page (no
//    window.confirm), and closes only on "Discard".
// 3. htmx requests carry the page's CSRF token (<meta name="csrf-token">, on a signed-in
//    reader's pages only) as X-CSRFToken, for posts that are not a form with its own token.
// Text comes from the server (data-* attributes), translated there.
(function () {
  "use strict";

  var NEAR = 0.8;

  function countChars(text) {
    // Code points, as the server counts (an emoji is one character, not two).
    return Array.from(text).length;
  }

  function updateCounter(box) {
    var counter = document.getElementById(box.getAttribute("data-counter"));
    var limit = parseInt(box.getAttribute("data-max-length"), 10);
    if (!counter || !limit) return;
    var count = countChars(box.value.trim());
    var over = count > limit;
    counter.hidden = count < limit * NEAR;
    counter.classList.toggle("is-over", over);
    var template = counter.getAttribute(over ? "data-over" : "data-near") || "";
    counter.textContent = template
      .replace("{count}", count.toLocaleString())
      .replace("{limit}", limit.toLocaleString());
  }

  function updateAll(root) {
    root.querySelectorAll("textarea[data-max-length]").forEach(updateCounter);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-max-length]")) {
      updateCounter(event.target);
    }
  });

  function hasDraft(form) {
    var box = form && form.querySelector("textarea");
    return !!box && box.value.trim() !== box.defaultValue.trim();
  }

  // htmx asks before every request; a guarded Cancel with a draft waits for the reader.
  var pending = new WeakMap(); // .discard-confirm element -> the held htmx:confirm event

  document.addEventListener("htmx:confirm", function (event) {
    var link = event.detail.elt;
    if (!link.hasAttribute || !link.hasAttribute("data-draft-guard")) return;
    var form = link.closest("form");
    var ask = form && form.querySelector(".discard-confirm");
    if (!ask || !hasDraft(form)) return;
    event.preventDefault();
    pending.set(ask, event);
    ask.hidden = false;
    ask.querySelector("[data-discard]").focus();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-discard], [data-keep]");
    var ask = button && button.closest(".discard-confirm");
    if (!ask) return;
    var held = pending.get(ask);
    pending.delete(ask);
    ask.hidden = true;
    if (button.hasAttribute("data-discard") && held) {
      held.detail.issueRequest(true);
    } else {
      var box = ask.closest("form").querySelector("textarea");
      if (box) box.focus();
    }
  });

  // Forms swapped in by htmx (a reply box, an edit box, a refused post) get their counter.
  document.addEventListener("htmx:load", function (event) {
    updateAll(event.detail.elt);
  });
  updateAll(document);

  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.querySelector('meta[name="csrf-token"]');
    if (token) event.detail.headers["X-CSRFToken"] = token.content;
  });
})();
