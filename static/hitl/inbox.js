// Keyboard shortcuts for the reviewers' inbox (list and case page). Keys are ignored while typing.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function toggleHelp(force) {
    var help = document.getElementById("kb-help");
    if (help) { help.hidden = force === undefined ? !help.hidden : !force; }
  }
  function listRows() { return Array.prototype.slice.call(document.querySelectorAll("#result_list tbody tr")); }
  var current = -1;
  function highlight(i) {
    var rows = listRows();
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, n) { r.classList.toggle("kb-current", n === current); });
    rows[current].scrollIntoView({block: "nearest"});
  }
  function go(id) {
    var link = document.getElementById(id);
    if (link && link.getAttribute("href")) { window.location = link.getAttribute("href"); }
  }
  function press(key) {
    var button = document.querySelector('button[data-key="' + key + '"]');
    if (!button) { return; }
    if (window.confirm(button.getAttribute("data-confirm") || "Are you sure?")) { button.click(); }
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var onList = !!document.getElementById("result_list");
    var onCase = !!document.getElementById("case-page");
    if (e.key === "?") { toggleHelp(); e.preventDefault(); return; }
    if (e.key === "Escape") { toggleHelp(false); return; }
    if (onList) {
      var rows = listRows();
      if (e.key === "j") { highlight(current + 1); }
      else if (e.key === "k") { highlight(current - 1); }
      else if ((e.key === "o" || e.key === "Enter") && rows[current]) {
        var link = rows[current].querySelector("a.case-link") || rows[current].querySelector("a");
        if (link) { window.location = link.href; }
      } else if (e.key === "x" && rows[current]) {
        var box = rows[current].querySelector("input.action-select");
        if (box) { box.click(); }
      } else { return; }
      e.preventDefault();
    } else if (onCase) {
      if (e.key === "j") { go("next-case"); }
      else if (e.key === "k") { go("previous-case"); }
      else if (e.key === "a" || e.key === "d" || e.key === "e") { press(e.key); }
      else if (e.key === "n") { var body = document.getElementById("note-body"); if (body) { body.focus(); } }
      else { return; }
      e.preventDefault();
    }
  });
})();
