// Keyboard shortcuts for the review pages. No inline script: the CSP only allows this file.
// Hit page: c confirm, d dismiss, e escalate (submits the verdict form), j/k next/previous.
// Queue page: j/k move the selection, o or Enter opens it.
(function () {
  "use strict";
  function typing(target) {
    return target && target.closest && target.closest("input, textarea, select");
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row[data-href]"));
  var selected = -1;
  function select(i) {
    if (!rows.length) return;
    if (selected >= 0) rows[selected].classList.remove("selected");
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows[selected].classList.add("selected");
    rows[selected].scrollIntoView({block: "nearest"});
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    var form = document.getElementById("verdict-form");
    if (form) {
      var button = form.querySelector('button[data-key="' + ev.key + '"]');
      if (button) { ev.preventDefault(); form.requestSubmit(button); return; }
      var rel = ev.key === "j" ? "next" : ev.key === "k" ? "prev" : "";
      var link = rel && document.querySelector("a[rel=" + rel + "]");
      if (link) { ev.preventDefault(); window.location.assign(link.href); }
      return;
    }
    if (ev.key === "j") { ev.preventDefault(); select(selected + 1); }
    else if (ev.key === "k") { ev.preventDefault(); select(selected - 1); }
    else if ((ev.key === "o" || ev.key === "Enter") && selected >= 0) {
      ev.preventDefault(); window.location.assign(rows[selected].dataset.href);
    }
  });
})();
