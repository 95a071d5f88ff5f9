/* An invoice's form: "Add line" copies the formset's empty row (Django's __prefix__) and counts it in
 * lines-TOTAL_FORMS; a button with data-kassa-confirm asks first (Void). Loaded by InvoiceAdmin's Media:
 * no inline script, so the page works under the dashboard's strict Content-Security-Policy.
 */
(function () {
  "use strict";

  function refresh(lines) {
    var add = lines.querySelector("[data-kassa-line-add]");
    var total = lines.querySelector("input[name$='-TOTAL_FORMS']");
    add.hidden = false;
    add.disabled = Number(total.value) >= Number(lines.dataset.maxLines || 50);
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-kassa-line-add]");
    if (add) {
      var lines = add.closest("[data-kassa-lines]");
      var total = lines.querySelector("input[name$='-TOTAL_FORMS']");
      var template = lines.querySelector("template[data-kassa-line-template]");
      var index = Number(total.value);
      var holder = document.createElement("tbody");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      var row = holder.querySelector("[data-kassa-line]");
      lines.querySelector("[data-kassa-lines-body]").appendChild(row);
      total.value = String(index + 1);
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) { first.focus(); }
      refresh(lines);
      return;
    }
    var confirmed = event.target.closest("[data-kassa-confirm]");
    if (confirmed && !window.confirm(confirmed.dataset.kassaConfirm)) {
      event.preventDefault();
    }
  });

  function start() {
    document.querySelectorAll("[data-kassa-lines]").forEach(refresh);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
