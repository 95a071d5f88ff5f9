/*
 * The dashboard's webhook pages, served by Kassa at /static/kassa/webhooks.js.
 *
 * No inline script and no eval: the pages work under a strict CSP
 * (script-src 'self'). What the script acts on is marked in the HTML with
 * data attributes; without JavaScript the pages still work (plain
 * checkboxes, a deliveries table that a reload refreshes).
 *
 * [data-kassa-event-types]  the event types an endpoint listens for: a filter box
 *                           and a "Select all" button per group (it selects the
 *                           types the filter shows; "Clear" when all are selected).
 * [data-kassa-poll]         a deliveries panel: fetched again from its URL every
 *                           data-kassa-poll-seconds (the answer says how often
 *                           next: sooner while a delivery is pending), while the
 *                           page is visible; details left open stay open.
 */
(function () {
  "use strict";

  // --- event types --------------------------------------------------------------

  function eventTypes(root) {
    var filter = root.querySelector("[data-kassa-filter]");
    var count = root.querySelector("[data-kassa-count]");
    var none = root.querySelector("[data-kassa-none]");
    var all = root.querySelector("[data-kassa-all]");
    var groups = Array.prototype.slice.call(root.querySelectorAll("[data-kassa-group]"));

    function boxes(group, onlyShown) {
      return Array.prototype.slice.call(group.querySelectorAll("li")).filter(function (item) {
        return !onlyShown || !item.hidden;
      }).map(function (item) { return item.querySelector("input[type=checkbox]"); });
    }

    function refreshButtons() {
      groups.forEach(function (group) {
        var button = group.querySelector("[data-kassa-select-group]");
        var shown = boxes(group, true);
        var full = shown.length > 0 && shown.every(function (box) { return box.checked; });
        button.textContent = full ? button.dataset.labelClear : button.dataset.labelSelect;
        button.setAttribute("aria-pressed", full ? "true" : "false");
        button.disabled = !!(all && all.checked);
      });
      root.classList.toggle("kassa-events-everything", !!(all && all.checked));
    }

    function applyFilter() {
      var words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shownTotal = 0;
      groups.forEach(function (group) {
        var name = (group.dataset.kassaGroup + " " + group.querySelector("legend").textContent).toLowerCase();
        var shown = 0;
        group.querySelectorAll("li").forEach(function (item) {
          var text = (item.dataset.kassaType + " " + name).toLowerCase();
          var match = words.every(function (word) { return text.indexOf(word) !== -1; });
          item.hidden = !match;
          if (match) { shown += 1; }
        });
        group.hidden = shown === 0;
        shownTotal += shown;
      });
      none.hidden = shownTotal > 0;
      count.textContent = words.length ? shownTotal + " / " + root.querySelectorAll("li").length : "";
      refreshButtons();
    }

    groups.forEach(function (group) {
      var button = group.querySelector("[data-kassa-select-group]");
      button.hidden = false;
      button.addEventListener("click", function () {
        var shown = boxes(group, true);
        var select = !shown.every(function (box) { return box.checked; });
        shown.forEach(function (box) { box.checked = select; });
        refreshButtons();
      });
    });
    root.addEventListener("change", refreshButtons);
    filter.addEventListener("input", applyFilter);
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); } // Enter filters; it does not submit the form
    });
    root.querySelector("[data-kassa-tools]").hidden = false;
    applyFilter();
  }

  // --- deliveries panels --------------------------------------------------------

  function poll(panel) {
    var url = panel.dataset.kassaPoll;
    var timer = null;

    function schedule(current) {
      var seconds = parseInt(current.dataset.kassaPollSeconds, 10) || 5;
      var state = current.querySelector("[data-kassa-poll-state]");
      if (state) { state.textContent = current.dataset.kassaPollRunning || ""; }
      clearTimeout(timer);
      timer = setTimeout(refresh, seconds * 1000);
    }

    function stop(current, why) {
      clearTimeout(timer);
      var state = current.querySelector("[data-kassa-poll-state]");
      if (state) { state.textContent = why; }
    }

    function refresh() {
      if (document.hidden) { return; } // visibilitychange refreshes when the page is looked at again
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" }, cache: "no-store" })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html; // rendered by Kassa's templates, every value escaped
          var fresh = holder.querySelector("[data-kassa-poll]");
          if (!fresh) { throw new Error("no panel"); }
          var open = {};
          panel.querySelectorAll("details[open][data-kassa-keep]").forEach(function (d) { open[d.dataset.kassaKeep] = true; });
          fresh.querySelectorAll("details[data-kassa-keep]").forEach(function (d) {
            if (open[d.dataset.kassaKeep]) { d.open = true; }
          });
          panel.replaceWith(fresh);
          panel = fresh;
          schedule(panel);
        })
        .catch(function () {
          // Logged out, the mode switched, the endpoint deleted, or the server away: the page says so and stops.
          stop(panel, panel.dataset.kassaPollStopped || "");
        });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { refresh(); }
    });
    schedule(panel);
  }

  function start() {
    document.querySelectorAll("[data-kassa-event-types]").forEach(eventTypes);
    document.querySelectorAll("[data-kassa-poll]").forEach(poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
