/*
 * Kassa pay button, served by Kassa at /static/kassa/pay-button.js.
 *
 * It puts a button on a client app's page. A click opens Kassa's hosted
 * checkout page in a popup or an overlay (an iframe); when the payment ends,
 * the button calls the app's callbacks with what Kassa's server confirmed.
 * Card data is typed into the hosted page only: the app's page never sees it.
 *
 * Plain HTML
 * ----------
 *   <script src="https://kassa.example/static/kassa/pay-button.js"></script>
 *   <div id="pay"></div>
 *   <script>
 *     KassaPay.mount(document.getElementById("pay"), {
 *       publishableKey: "pk_test_…",       // the merchant's Kassa publishable key
 *       paymentLink: "plink_…",             // or checkoutSession: "cs_test_…" (made by your server)
 *       mode: "overlay",                    // or "popup"
 *       onPaymentComplete: function (data) { location.href = "/thanks?order=" + data.checkout_session; },
 *     });
 *   </script>
 *
 * Without code (callbacks are names of global functions):
 *   <div data-kassa-pay data-publishable-key="pk_test_…" data-payment-link="plink_…"
 *        data-mode="popup" data-label="Buy now" data-on-payment-complete="paid"
 *        data-on-payment-error="failed" data-on-payment-data-received="progress"></div>
 *
 * React
 * -----
 *   function PayButton(props) {
 *     const ref = React.useRef(null);
 *     React.useEffect(() => {
 *       const button = window.KassaPay.mount(ref.current, props);
 *       return () => button.destroy();
 *     }, [props.paymentLink, props.checkoutSession]);
 *     return <div ref={ref} />;
 *   }
 *
 * KassaPay.mount(element, options) -> {open(), close(), destroy()}
 *   element            where the button goes (a <button> element is used as is)
 *   kassaUrl           Kassa's address; default: where this script was loaded from
 *   publishableKey     pk_test_… / pk_live_…; needed with paymentLink
 *   paymentLink        plink_…: the button starts a fresh checkout session from it on each click
 *                      (POST {kassaUrl}/v1/checkout/sessions, payment_link=plink_…)
 *   checkoutSession    cs_…: a session your server made (POST /v1/checkout/sessions with the secret key)
 *   mode               "overlay" (default) or "popup"
 *   label              the button's text (default "Pay")
 *   closeOnComplete    close the popup or overlay after a completed payment (default true, after 1.5 s)
 *   onPaymentComplete(data)       once, when Kassa confirmed the payment succeeded (payment_status "paid")
 *   onPaymentDataReceived(data)   after each answer of Kassa's server to the payer's attempts
 *                                 (status "succeeded", "requires_action", "requires_payment_method" after
 *                                 a decline, …), for progress or analytics
 *   onPaymentError(error)         {code, message, payment?}: the checkout could not start, the session
 *                                 cannot be paid, a card was refused (code "card_declined", … the payer
 *                                 may try again in the same window), or the payer closed the window
 *                                 before paying (code "canceled")
 *   data = {checkout_session, payment_intent, amount, currency, status, payment_status, livemode}
 *          (amount in the currency's minor unit, as in Kassa's API)
 *
 * Trust: the hosted page posts only what the server answered, and only to the
 * origin it was given (?origin=…); this script accepts a message only if its
 * event.origin is Kassa's and it comes from the window it opened. A browser
 * callback is still a browser: before shipping goods, your server should
 * confirm with Kassa (GET /v1/checkout/sessions/{id} or the
 * checkout.session.completed webhook). The page hosting the button must not
 * send "Cross-Origin-Opener-Policy: same-origin" (use same-origin-allow-popups)
 * or the popup cannot report back.
 */
(function (global) {
  "use strict";

  var script = document.currentScript;
  var DEFAULT_KASSA_URL = script && script.src ? new URL(script.src).origin : "";
  var STYLE_ID = "kassa-pay-style";
  var CSS =
    ".kassa-pay-button{font:600 16px/1.2 system-ui,sans-serif;color:#fff;background:#2f54eb;border:0;" +
    "border-radius:8px;padding:12px 20px;min-height:44px;cursor:pointer}" +
    ".kassa-pay-button[disabled]{opacity:.6;cursor:progress}" +
    ".kassa-pay-overlay{position:fixed;inset:0;z-index:2147483000;background:rgba(15,23,42,.6);" +
    "display:flex;align-items:center;justify-content:center}" +
    ".kassa-pay-frame{width:min(960px,100vw);height:min(760px,100vh);border:0;background:#fff;border-radius:12px}" +
    "@media (max-width:760px){.kassa-pay-frame{width:100vw;height:100vh;border-radius:0}}" +
    ".kassa-pay-close{position:absolute;top:8px;right:12px;font:32px/1 system-ui,sans-serif;color:#fff;" +
    "background:none;border:0;cursor:pointer}";

  function injectStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function call(fn, value) {
    if (typeof fn !== "function") return;
    try {
      fn(value);
    } catch (e) {
      setTimeout(function () {
        throw e; // the merchant's bug, reported without breaking the button
      });
    }
  }

  function mount(element, options) {
    if (typeof element === "string") element = document.querySelector(element);
    if (!element) throw new Error("KassaPay.mount: no element to mount on.");
    options = options || {};
    var kassaUrl = String(options.kassaUrl || DEFAULT_KASSA_URL).replace(/\/+$/, "");
    if (!kassaUrl) throw new Error("KassaPay.mount: kassaUrl is required.");
    var kassaOrigin = new URL(kassaUrl).origin;
    var mode = options.mode === "popup" ? "popup" : "overlay";
    if (!options.paymentLink && !options.checkoutSession) {
      throw new Error("KassaPay.mount: pass paymentLink or checkoutSession.");
    }
    if (options.paymentLink && !options.publishableKey) {
      throw new Error("KassaPay.mount: a payment link needs publishableKey.");
    }
    injectStyle();

    var button = element;
    var created = false;
    if (element.tagName !== "BUTTON") {
      button = document.createElement("button");
      button.type = "button";
      button.className = "kassa-pay-button";
      button.textContent = options.label || "Pay";
      element.appendChild(button);
      created = true;
    }

    var state = null; // {sessionId, win, overlay, frame, completed, watcher}

    function fail(code, message, payment) {
      call(options.onPaymentError, { code: code, message: message || "", payment: payment || null });
    }

    function createSession() {
      if (options.checkoutSession) return Promise.resolve(options.checkoutSession);
      return fetch(kassaUrl + "/v1/checkout/sessions", {
        method: "POST",
        headers: {
          Authorization: "Bearer " + options.publishableKey,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: "payment_link=" + encodeURIComponent(options.paymentLink),
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok || !body.id) {
            var error = (body && body.error) || {};
            var exc = new Error(error.message || "Kassa could not start the checkout.");
            exc.code = error.code || "checkout_unavailable";
            throw exc;
          }
          return body.id;
        });
      });
    }

    function pageUrl(sessionId) {
      var query = "embed=1&origin=" + encodeURIComponent(global.location.origin);
      return kassaUrl + "/pay/session/" + encodeURIComponent(sessionId) + "?" + query;
    }

    function openOverlay() {
      var overlay = document.createElement("div");
      overlay.className = "kassa-pay-overlay";
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-modal", "true");
      var frame = document.createElement("iframe");
      frame.className = "kassa-pay-frame";
      frame.title = "Kassa checkout";
      frame.setAttribute("allow", "payment");
      var close = document.createElement("button");
      close.type = "button";
      close.className = "kassa-pay-close";
      close.setAttribute("aria-label", "Close");
      close.textContent = "×";
      close.addEventListener("click", function () {
        finish(true);
      });
      overlay.appendChild(frame);
      overlay.appendChild(close);
      document.body.appendChild(overlay);
      return { overlay: overlay, frame: frame };
    }

    function source() {
      if (!state) return null;
      return state.frame ? state.frame.contentWindow : state.win;
    }

    // Ends the checkout window; `canceled` when the payer left before paying.
    function finish(canceled) {
      if (!state) return;
      var ended = state;
      state = null;
      global.removeEventListener("message", onMessage);
      clearInterval(ended.watcher);
      if (ended.overlay) ended.overlay.remove();
      if (ended.win && !ended.win.closed) ended.win.close();
      button.disabled = false;
      if (canceled && !ended.completed) fail("canceled", "The payer closed the checkout before paying.");
    }

    function onMessage(event) {
      // Only Kassa's page, in the window this button opened, may speak.
      if (!state || event.origin !== kassaOrigin || event.source !== source()) return;
      var message = event.data;
      if (!message || message.source !== "kassa" || message.type !== "payment") return;
      var payment = message.payment;
      if (!payment || payment.checkout_session !== state.sessionId) return;
      if (message.status !== "succeeded") call(options.onPaymentDataReceived, payment);
      if (message.status === "succeeded" && payment.payment_status === "paid") {
        if (state.completed) return; // the success page repeats it
        state.completed = true;
        call(options.onPaymentDataReceived, payment);
        call(options.onPaymentComplete, payment);
        if (options.closeOnComplete !== false) {
          var current = state;
          setTimeout(function () {
            if (state === current) finish(false);
          }, 1500);
        }
      } else if (message.status === "failed") {
        fail(message.code || "payment_failed", message.message, payment);
      }
    }

    function open() {
      if (state) return;
      button.disabled = true;
      // A popup must open during the click, or browsers block it; it gets its address once the session exists.
      var win = null;
      if (mode === "popup") {
        var width = Math.min(520, screen.availWidth);
        var height = Math.min(760, screen.availHeight);
        var left = Math.max(0, (screen.availWidth - width) / 2);
        var top = Math.max(0, (screen.availHeight - height) / 2);
        win = global.open("", "kassa_checkout", "popup,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top);
        if (!win) {
          button.disabled = false;
          fail("popup_blocked", "The browser blocked the checkout window.");
          return;
        }
      }
      state = { sessionId: null, win: win, overlay: null, frame: null, completed: false, watcher: null };
      var current = state;
      createSession().then(
        function (sessionId) {
          if (state !== current) return;
          current.sessionId = sessionId;
          global.addEventListener("message", onMessage);
          if (mode === "popup") {
            current.win.location.href = pageUrl(sessionId);
            current.watcher = setInterval(function () {
              if (current.win.closed && state === current) finish(true);
            }, 500);
          } else {
            var parts = openOverlay();
            current.overlay = parts.overlay;
            current.frame = parts.frame;
            parts.frame.src = pageUrl(sessionId);
          }
        },
        function (error) {
          if (state !== current) return;
          finish(false);
          fail(error.code || "checkout_unavailable", error.message);
        }
      );
    }

    function onKey(event) {
      if (event.key === "Escape" && state && state.overlay) finish(true);
    }

    button.addEventListener("click", open);
    document.addEventListener("keydown", onKey);

    return {
      open: open,
      close: function () {
        finish(true);
      },
      destroy: function () {
        finish(false);
        button.removeEventListener("click", open);
        document.removeEventListener("keydown", onKey);
        if (created) button.remove();
      },
    };
  }

  function globalFunction(name) {
    return name && typeof global[name] === "function" ? global[name] : undefined;
  }

  function autoMount() {
    var nodes = document.querySelectorAll("[data-kassa-pay]:not([data-kassa-pay-mounted])");
    Array.prototype.forEach.call(nodes, function (node) {
      node.setAttribute("data-kassa-pay-mounted", "");
      var d = node.dataset;
      mount(node, {
        kassaUrl: d.kassaUrl,
        publishableKey: d.publishableKey,
        paymentLink: d.paymentLink,
        checkoutSession: d.checkoutSession,
        mode: d.mode,
        label: d.label,
        closeOnComplete: d.closeOnComplete !== "false",
        onPaymentComplete: globalFunction(d.onPaymentComplete),
        onPaymentDataReceived: globalFunction(d.onPaymentDataReceived),
        onPaymentError: globalFunction(d.onPaymentError),
      });
    });
  }

  global.KassaPay = { mount: mount, autoMount: autoMount, version: "1" };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoMount);
  } else {
    autoMount();
  }
})(window);
