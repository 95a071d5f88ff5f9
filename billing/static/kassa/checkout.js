/*
 * Kassa's hosted checkout page (templates/pay/checkout.html, complete.html).
 *
 * The card goes from Stripe's element to Stripe (createToken); only the token
 * reaches Kassa. Every outcome shown here is the server's JSON answer:
 *   POST payUrl  {token, email, name, phone, address} -> {status, message, client_secret, next_url, payment}
 *   status "requires_action" -> stripe.confirmCardPayment(client_secret), then POST syncUrl (same answer shape)
 * When embedded (?embed=1&origin=…, the pay button), each answer's `payment`
 * (what the server confirmed) is posted to the opener or parent window, with
 * the embedding origin the server checked as targetOrigin.
 */
(function () {
  "use strict";

  function readConfig(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function notify(cfg, answer) {
    if (!cfg.embed || !cfg.origin) return;
    var target = window.opener || (window.parent !== window ? window.parent : null);
    if (!target) return;
    target.postMessage(
      {
        source: "kassa",
        type: "payment",
        status: answer.status,
        code: answer.code || null,
        message: answer.message || "",
        payment: answer.payment || null,
      },
      cfg.origin
    );
  }

  // The success page of an embedded checkout: tell the embedding page what the server confirmed.
  var complete = readConfig("kassa-complete");
  if (complete) {
    notify(complete, { status: "succeeded", payment: complete.payment });
    return;
  }

  var cfg = readConfig("kassa-checkout");
  if (!cfg) return;

  var form = document.getElementById("payment-form");
  var button = document.getElementById("pay-button");
  var messageBox = document.getElementById("payment-message");
  var stripe = Stripe(cfg.publishableKey);
  var card = stripe.elements({ locale: cfg.locale }).create("card");
  card.mount("#card-element");
  var busy = false;

  function setBusy(on, label) {
    busy = on;
    button.disabled = on;
    button.textContent = on ? label || cfg.text.processing : cfg.text.pay;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function show(text, kind) {
    messageBox.textContent = text || "";
    messageBox.className = "message" + (kind ? " " + kind : "");
    messageBox.hidden = !text;
  }

  function value(id) {
    var input = document.getElementById(id);
    return input ? input.value.trim() : undefined;
  }

  function details() {
    var body = { email: value("email"), name: value("name"), phone: value("phone") };
    if (document.getElementById("address")) {
      body.address = {
        line1: value("address-line1"),
        line2: value("address-line2"),
        city: value("address-city"),
        postal_code: value("address-postal-code"),
        state: value("address-state"),
        country: value("address-country"),
      };
    }
    return body;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Kassa-Page-Token": cfg.pageToken },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () {
        return { status: "failed", message: cfg.text.generic_error };
      });
    });
  }

  function wait(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  // Act on the server's answer; `rounds` bounds the 3-D Secure and polling loops.
  function handle(answer, rounds) {
    notify(cfg, answer);
    if (answer.status === "succeeded") {
      show(answer.message, "success");
      window.location.assign(answer.next_url);
      return Promise.resolve();
    }
    if (answer.status === "requires_action" && answer.client_secret && rounds > 0) {
      setBusy(true, cfg.text.authenticating);
      // Whatever Stripe.js reports, the server decides: it re-reads the processor.
      return stripe
        .confirmCardPayment(answer.client_secret)
        .catch(function () {
          return null;
        })
        .then(function () {
          return post(cfg.syncUrl);
        })
        .then(function (synced) {
          return handle(synced, rounds - 1);
        });
    }
    if (answer.status === "processing" && rounds > 0) {
      show(answer.message, "info");
      return wait(2000)
        .then(function () {
          return post(cfg.syncUrl);
        })
        .then(function (synced) {
          return handle(synced, rounds - 1);
        });
    }
    show(answer.message || cfg.text.generic_error, "error");
    if (answer.next_url) {
      window.location.assign(answer.next_url);
      return Promise.resolve();
    }
    setBusy(false);
    return Promise.resolve();
  }

  // An invoice whose payment waits for the card holder's 3-D Secure (cfg.authenticate): the first submit
  // asks the server for that payment's client secret (no new card); if it does not succeed, the card form.
  var authenticateFirst = Boolean(cfg.authenticate);

  function authenticate() {
    return post(cfg.payUrl, {})
      .then(function (answer) {
        return handle(answer, 10);
      })
      .then(function () {
        authenticateFirst = false;
        var note = document.getElementById("authenticate-note");
        if (note) note.hidden = true;
        document.getElementById("card-fields").hidden = false;
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return; // a double click makes one request
    setBusy(true);
    show("");
    if (authenticateFirst) {
      authenticate().catch(function () {
        show(cfg.text.network_error, "error");
        setBusy(false);
      });
      return;
    }
    var name = value("name");
    Promise.resolve()
      .then(function () {
        return stripe.createToken(card, name ? { name: name } : {});
      })
      .catch(function () {
        return { error: { message: cfg.text.card_incomplete } };
      })
      .then(function (result) {
        if (!result || result.error || !result.token) {
          show((result && result.error && result.error.message) || cfg.text.card_incomplete, "error");
          setBusy(false);
          return null;
        }
        var body = details();
        body.token = result.token.id;
        return post(cfg.payUrl, body).then(function (answer) {
          return handle(answer, 10);
        });
      })
      .catch(function () {
        show(cfg.text.network_error, "error");
        setBusy(false);
      });
  });
})();
