/* Kassa dashboard widgets: copy buttons, key/value and list rows, money boxes, the API key form.
 *
 * Loaded on every dashboard page by templates/admin/base_site.html. No inline script anywhere:
 * everything is found through data attributes, so the dashboard works under a strict
 * Content-Security-Policy (script-src 'self').
 */
(function () {
  "use strict";

  // --- copy buttons: data-copy-text="…" (the text itself) or data-copy="element id" ---------
  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyWithSelection(text, source) {
    // The fallback where the Clipboard API is missing (plain http other than localhost):
    // select the text and ask the browser to copy the selection.
    var node = source;
    var temporary = null;
    if (!node) {
      temporary = document.createElement("textarea");
      temporary.value = text;
      temporary.setAttribute("readonly", "");
      temporary.style.position = "fixed";
      temporary.style.opacity = "0";
      document.body.appendChild(temporary);
      temporary.select();
    } else {
      selectText(node);
    }
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    if (temporary) { temporary.remove(); }
    return ok;
  }

  function copied(button) {
    if (!button.dataset.copyLabel) { button.dataset.copyLabel = button.textContent; }
    button.textContent = button.dataset.copiedLabel || "Copied";
    button.classList.add("kassa-copied");
    setTimeout(function () {
      button.textContent = button.dataset.copyLabel;
      button.classList.remove("kassa-copied");
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-text], [data-copy]");
    if (!button) { return; }
    event.preventDefault();
    var source = button.dataset.copy ? document.getElementById(button.dataset.copy) : null;
    var text = source ? source.textContent.trim() : button.dataset.copyText;
    if (!source) {
      var box = button.closest(".kassa-copyable");
      source = box ? box.querySelector("code") : null;
    }
    function fallback() { if (copyWithSelection(text, source)) { copied(button); } }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, fallback);
    } else {
      fallback();
    }
  });

  // --- rows (metadata, image URLs, features): add and remove ---------------------------------
  function rowCount(rows) { return rows.querySelectorAll("[data-kassa-rows-body] [data-kassa-row]").length; }

  function refreshRows(rows) {
    var add = rows.querySelector("[data-kassa-row-add]");
    add.hidden = false;
    add.disabled = rowCount(rows) >= Number(rows.dataset.maxRows || 50);
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-kassa-row-add]");
    if (add) {
      var rows = add.closest("[data-kassa-rows]");
      var template = rows.querySelector("template[data-kassa-row-template]");
      var row = template.content.firstElementChild.cloneNode(true);
      rows.querySelector("[data-kassa-rows-body]").appendChild(row);
      row.querySelector("input").focus();
      refreshRows(rows);
      return;
    }
    var remove = event.target.closest("[data-kassa-row-remove]");
    if (remove) {
      var container = remove.closest("[data-kassa-rows]");
      var current = remove.closest("[data-kassa-row]");
      if (rowCount(container) > 1) {
        current.remove();
      } else {
        current.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
      refreshRows(container);
    }
  });

  // --- money: the amount box says how many decimals the picked currency has ------------------
  function refreshMoney(box) {
    var select = box.querySelector("select");
    var amount = box.querySelector("input");
    var hint = box.querySelector("[data-kassa-money-hint]");
    var currency = select.value;
    var places = 2;
    if ((" " + box.dataset.zeroDecimal + " ").indexOf(" " + currency + " ") >= 0) { places = 0; }
    if ((" " + box.dataset.threeDecimal + " ").indexOf(" " + currency + " ") >= 0) { places = 3; }
    amount.placeholder = places === 0 ? "1500" : "12." + "5000".slice(0, places);
    hint.textContent = places === 0 ? hint.dataset.labelNone : places + " " + hint.dataset.labelSome;
  }

  // --- API key form: the permission grid matters only for restricted keys -------------------
  function refreshKeyKind(select) {
    var grid = document.querySelector("[data-kassa-permission-grid]");
    if (!grid) { return; }
    var row = grid.closest(".form-row") || grid;
    row.hidden = select.value !== "restricted";
  }

  document.addEventListener("change", function (event) {
    var box = event.target.closest("[data-kassa-money]");
    if (box) { refreshMoney(box); }
    if (event.target.matches("select[name=kind]")) { refreshKeyKind(event.target); }
  });

  function start() {
    document.querySelectorAll("[data-kassa-rows]").forEach(refreshRows);
    document.querySelectorAll("[data-kassa-money]").forEach(refreshMoney);
    var kind = document.querySelector("[data-kassa-permission-grid]") && document.querySelector("select[name=kind]");
    if (kind) { refreshKeyKind(kind); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
