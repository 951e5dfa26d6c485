// "Select all on this page" for the memory list: ticks every memory's box of the form named
// by data-select-all. Hidden without JavaScript; works again after htmx swaps the results.
(function () {
  "use strict";
  function boxes(form) {
    return document.querySelectorAll('input[type="checkbox"][name="memory_ids"][form="' + form + '"]');
  }
  function reveal() {
    document.querySelectorAll("[data-select-all-label]").forEach(function (label) { label.hidden = false; });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("input[data-select-all]")) {
      boxes(target.getAttribute("data-select-all")).forEach(function (box) { box.checked = target.checked; });
    } else if (target.name === "memory_ids" && target.form) {
      var all = document.querySelector('input[data-select-all="' + target.form.id + '"]');
      if (all) {
        var list = Array.prototype.slice.call(boxes(target.form.id));
        all.checked = list.length > 0 && list.every(function (box) { return box.checked; });
      }
    }
  });
  document.addEventListener("htmx:afterSwap", reveal);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", reveal); } else { reveal(); }
})();
