"use strict";
// The checkout page's only script. It holds one checkout session's client secret, taken from
// the URL fragment (browsers never send a fragment to a server) and at once removed from the
// address bar; it talks only to that session's routes and follows the API's answers
// (`next_action`, problem `code` and `param`). Card details live only in the form fields and
// the request that carries them: nothing is logged or stored.
(() => {
  const $ = (id) => document.getElementById(id);

  // --- where the session's routes are ---------------------------------------------------------
  const place = /^(.*)\/checkout\/(cs_[a-z0-9]+)\/?$/.exec(location.pathname);
  const root = place ? place[1] : "";
  const sessionId = place ? place[2] : "";
  // Back from the issuer (3-D Secure): the acquirer's result in the query, the secret kept in
  // this tab's sessionStorage before the page left (the fragment does not come back).
  const kept = `checkout-secret:${sessionId}`;
  const redirectResult = new URLSearchParams(location.search).get("redirectResult");
  const secret = /^#([A-Za-z0-9_-]{43})$/.exec(location.hash)?.[1] ?? (redirectResult ? sessionStorage.getItem(kept) : null);
  if (location.hash || location.search) history.replaceState(null, "", location.pathname);
  // Behind API Gateway the routes share the page's origin; under `cargo lambda watch` each
  // function has its own `/lambda-url/<function>` prefix.
  const local = /\/lambda-url\/[^/]+$/.test(root);
  const FUNCTIONS = [
    [/\/payments$/, "first-payment"],
    [/\/payments\/repeat$/, "repeat-payment"],
    [/\/payments\/[^/]+\/(verify|resend|details)$/, "verify-code"],
  ];
  const apiUrl = (path) => {
    if (!local) return root + path;
    const hit = FUNCTIONS.find(([pattern]) => pattern.test(path));
    return root.replace(/[^/]+$/, hit ? hit[1] : "checkout-page") + path;
  };
  const sessionPath = (rest) => `/checkout/${sessionId}${rest}`;

  const randomKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  async function call(method, path, body) {
    const headers = { authorization: `Bearer ${secret}` };
    const init = { method, headers };
    if (method === "POST") {
      headers["content-type"] = "application/json";
      headers["idempotency-key"] = randomKey();
      init.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(apiUrl(path), init);
      const answer = await response.json().catch(() => ({}));
      return { status: response.status, body: answer };
    } catch {
      return { status: 0, body: { code: "network" } };
    }
  }

  // --- what the shopper sees --------------------------------------------------------------------
  let state = null;  // the session's state: amount, merchant, saved cards, return_url
  const say = (text) => { $("message").textContent = text || ""; };
  const show = (id) => {
    for (const section of ["loading", "saved", "card-form", "code-step", "result"]) $(section).hidden = section !== id;
  };
  const FIELD_OF_PARAM = {
    "card.number": "card-number", "card.exp_month": "card-exp", "card.exp_year": "card-exp", card: "card-exp",
    "card.cvc": "card-cvc", "card.holder_name": "card-name", phone: "phone", code: "code",
  };
  // What to tell a shopper about a field the API refused: plain words, not the API's rule.
  const PLAIN_FIELD = {
    "card-number": "Check the card number: it is the 13 to 19 digits on the front of your card.",
    "card-exp": "Check the expiry date: use MM/YY, as printed on your card, e.g. 08/29. An expired card cannot be used.",
    "card-cvc": "Check the security code: the 3 digits on the back of your card (4 on the front for American Express).",
    "card-name": "Check the name on the card.",
    phone: "Check your mobile number, with its country code, e.g. +86 138 0013 8000.",
    code: "Enter the 6 digits from the SMS we sent you.",
  };
  function clearErrors() {
    for (const el of document.querySelectorAll(".error")) { el.hidden = true; el.textContent = ""; }
    for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    say("");
  }
  function fieldError(param, text) {
    const id = FIELD_OF_PARAM[param];
    if (!id) return false;
    const error = $(`${id}-error`);
    error.textContent = text || PLAIN_FIELD[id];
    error.hidden = false;
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
    return true;
  }
  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", String(on));
  }
  const amountText = () => (state ? state.amount_display : "");
  function showResult(kind, title, detail, { reference = null, retry = false } = {}) {
    stopTimer();
    show("result");
    $("result").className = kind;
    $("result-title").textContent = title;
    $("result-detail").textContent = detail;
    $("result-ref").hidden = !reference;
    $("result-ref").textContent = reference ? `Payment reference: ${reference}` : "";
    $("try-again").hidden = !retry;
    const back = state && state.return_url;
    $("return-link").hidden = !back;
    if (back) $("return-link").href = back;
    if (kind === "success") { $("title").textContent = `Paid ${amountText()}`; document.title = `Paid · ${state ? state.merchant_name : ""}`; }
    $("result").focus();
  }
  const linkProblem = () => showResult("failure", "This link does not work",
    "Open the payment link from the shop again. For your security it works only in the tab it was opened in.");

  // --- card brand, as it is typed ------------------------------------------------------------
  const BRANDS = [
    [/^4/, "Visa"], [/^(5[1-5]|2(2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720))/, "Mastercard"], [/^3[47]/, "American Express"],
    [/^(6011|65|64[4-9])/, "Discover"], [/^35/, "JCB"], [/^62/, "UnionPay"], [/^(36|30[0-5]|38)/, "Diners Club"],
  ];
  const brandOf = (digits) => (BRANDS.find(([pattern]) => pattern.test(digits)) || [null, ""])[1];
  $("card-number").addEventListener("input", () => {
    $("card-brand").textContent = brandOf($("card-number").value.replace(/\D/g, ""));
  });

  // --- the code step ----------------------------------------------------------------------------
  let pending = null;  // the payment's next_action: verify_url, resend_url, expires_at, ...
  let timer = null;
  const stopTimer = () => { clearInterval(timer); timer = null; };
  function tick() {
    const now = Date.now();
    const left = Math.max(0, Math.round((Date.parse(pending.expires_at) - now) / 1000));
    $("countdown").textContent = left > 0
      ? `Code expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`
      : "The code has expired: ask for a new one";
    const wait = Math.max(0, Math.ceil((Date.parse(pending.resend_available_at) - now) / 1000));
    const resend = $("resend");
    resend.hidden = pending.sends_remaining === 0;
    resend.disabled = wait > 0;
    resend.textContent = wait > 0 ? `Send a new code (in ${wait} s)` : "Send a new code";
  }
  const setAttempts = (n) => { $("attempts").textContent = `${n} ${n === 1 ? "attempt" : "attempts"} left`; };
  function showCodeStep(next) {
    pending = next;
    show("code-step");
    $("sent-to").textContent = next.sent_to;
    setAttempts(next.attempts_remaining);
    stopTimer();
    tick();
    timer = setInterval(tick, 1000);
    $("code").value = "";
    $("code").focus();
  }

  // --- following the API ----------------------------------------------------------------------
  const DECLINES = {
    card_declined: "Your bank declined the payment. Check the card details, or try another card.",
    capture_failed: "Your bank did not complete the payment. Nothing was charged. You can try another card.",
    code_not_sent: "We could not send the code. Please try again.",
    order_already_paid: "This order has already been paid. Nothing more was charged.",
  };

  // The issuer wants the shopper (3-D Secure): the page goes where the acquirer says (a GET
  // redirect to an https page; the page's policy allows no form post), keeping the secret in
  // this tab for the way back.
  function authenticate(next) {
    const action = next.acquirer_action || {};
    const target = /^https:\/\//.test(action.url || "") || (local && /^http:\/\/127\.0\.0\.1[:/]/.test(action.url || ""));
    if ((action.method || "GET") !== "GET" || !target) {
      return showResult("failure", "Card check not possible here", "Your bank asks for a check this page cannot do. Please try another card.", { retry: true });
    }
    sessionStorage.setItem(kept, secret);
    say("Taking you to your bank to confirm the payment…");
    location.assign(action.url);
  }

  async function finishAuthentication(payment) {
    show("loading");
    say("Confirming with your bank…");
    const answer = await call("POST", payment.next_action.details_url, { details: { redirectResult } });
    sessionStorage.removeItem(kept);
    say("");
    return follow(answer);
  }

  // The acquirer took the authorisation or the capture and answers a moment later (Adyen's
  // notification): the page waits for the session's state to say what came of it.
  const WAITING = ["authorizing", "capturing"];
  async function awaitAcquirer() {
    show("loading");
    say("Confirming your payment…");
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const { status, body } = await call("GET", sessionPath("/state"));
      if (status === 200 && body.payment && !WAITING.includes(body.payment.status)) {
        say("");
        return showPayment(body.payment);
      }
    }
    say("");
    return showResult("success", "Payment being confirmed", `Your payment to ${state.merchant_name} is being confirmed. ${state.merchant_name} will let you know.`);
  }

  function showPayment(payment) {
    const next = payment.next_action;
    if (WAITING.includes(payment.status)) return awaitAcquirer();
    if (next && next.type === "enter_verification_code") return showCodeStep(next);
    if (next && next.type === "authenticate_with_issuer") return redirectResult ? finishAuthentication(payment) : authenticate(next);
    const method = payment.payment_method ? `${brandName(payment.payment_method.brand)} •••• ${payment.payment_method.last4}` : "your card";
    if (payment.status === "succeeded") {
      return showResult("success", "Payment complete", `You paid ${amountText()} to ${state.merchant_name} with ${method}.`,
        { reference: payment.payment_id });
    }
    if (payment.status === "requires_capture") {
      // A manual capture: the funds are held, the shop charges them when it confirms the order.
      return showResult("success", "Payment authorised",
        `${amountText()} is reserved on ${method}. ${state.merchant_name} will confirm the payment; you are charged only then.`,
        { reference: payment.payment_id });
    }
    if (payment.status === "failed" && payment.failure_code === "too_many_attempts") {
      return showResult("failure", "Payment stopped", "Too many wrong codes were entered, so this payment was stopped. You can start again.",
        { retry: true });
    }
    if (payment.status === "failed" && payment.failure_code === "order_already_paid") {
      return showResult("failure", "Already paid", DECLINES.order_already_paid, { reference: payment.payment_id });
    }
    if (payment.status === "failed") {
      return showResult("failure", "Payment declined", DECLINES[payment.failure_code] || "The payment did not go through. You can try another card.",
        { retry: true });
    }
    return showResult("failure", "Payment timed out", "The code was not entered in time. You can start again.", { retry: true });
  }
  const brandName = (b) => ({ visa: "Visa", mastercard: "Mastercard", amex: "American Express", unionpay: "UnionPay", jcb: "JCB", discover: "Discover", diners: "Diners Club" }[b] || "Card");

  function follow({ status, body }) {
    if (status >= 200 && status < 300) return showPayment(body);
    switch (body.code) {
      case "incorrect_code": {
        setAttempts(body.attempts_remaining);
        const n = body.attempts_remaining;
        return fieldError("code", `That code is not right. ${n} ${n === 1 ? "attempt" : "attempts"} left.`);
      }
      case "code_expired": return fieldError("code", "This code has expired. Send a new one.");
      case "invalid_client_secret": return linkProblem();
      case "session_expired":
        return showResult("failure", "This checkout has expired", "Nothing was charged. Go back to the shop to start again.");
      case "session_completed": return start();
      case "no_saved_payment_method":
      case "payment_method_not_found":
      case "card_expired":
        show("card-form");
        return say(body.code === "card_expired" ? "Your saved card has expired. Please pay with another card." : "Please enter your card details.");
      case "sms_rate_limited": {
        const minutes = Math.max(1, Math.ceil((body.retry_after || 60) / 60));
        return say(`Too many codes were sent to this number. Please try again in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`);
      }
      case "resend_too_soon": return say("A code was sent a moment ago. Please wait a few seconds before asking again.");
      case "too_many_failures":
        return showResult("failure", "Payments paused", "Too many wrong codes were entered. For your security, please try again in an hour.");
      case "too_many_declines": return say("Too many cards were declined. Please try again later.");
      case "too_many_payment_attempts": return say("Too many card payments were tried. Please try again later.");
      case "send_limit_reached": return say("No more codes can be sent for this payment. Enter the last code you received.");
      case "order_already_paid": return showResult("failure", "Already paid", DECLINES.order_already_paid);
      case "network": return say("The connection failed. Check your network and try again.");
      default: break;
    }
    if (body.payment) return showPayment(body.payment);  // declined, locked, no longer pending
    if (body.param && fieldError(body.param)) return;
    say("Something went wrong on our side. Please try again in a moment.");
  }

  // --- the session's state decides where the shopper starts --------------------------------------
  async function start() {
    if (!sessionId || !secret) return linkProblem();
    const { status, body } = await call("GET", sessionPath("/state"));
    if (status !== 200) return status === 401 ? linkProblem() : follow({ status, body });
    state = body;
    $("merchant").textContent = state.merchant_name;
    $("order").textContent = state.order_id;
    $("order-line").hidden = false;
    $("title").textContent = `Pay ${state.amount_display}`;
    document.title = `Pay ${state.amount_display} to ${state.merchant_name}`;
    $("pay-card").textContent = `Pay ${state.amount_display}`;
    const saved = state.saved_payment_methods[0];
    if (saved) $("pay-saved").textContent = `Pay ${state.amount_display} with ${saved.brand_name} •••• ${saved.last4}`;
    if (state.status === "complete" && state.payment) return showPayment(state.payment);
    if (state.status === "expired") {
      return showResult("failure", "This checkout has expired", "Nothing was charged. Go back to the shop to start again.");
    }
    if (state.payment && state.payment.next_action) return showPayment(state.payment);
    showStart();
  }
  function showStart() {
    clearErrors();
    const saved = state && state.saved_payment_methods[0];
    show(saved ? "saved" : "card-form");
    (saved ? $("pay-saved") : $("card-number")).focus();
  }

  // --- actions ----------------------------------------------------------------------------------
  $("use-new-card").addEventListener("click", () => { clearErrors(); show("card-form"); $("card-number").focus(); });
  $("try-again").addEventListener("click", () => { clearErrors(); show("card-form"); $("card-number").focus(); });

  $("pay-saved").addEventListener("click", async () => {
    clearErrors();
    busy($("pay-saved"), true);
    const saved = state.saved_payment_methods[0];
    follow(await call("POST", sessionPath("/payments/repeat"), saved ? { payment_method_id: saved.id } : {}));
    busy($("pay-saved"), false);
  });

  $("card-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const expiry = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})\s*$/.exec($("card-exp").value);
    const year = expiry ? Number(expiry[2]) : 0;
    const card = {
      number: $("card-number").value.replace(/[\s-]/g, ""),
      exp_month: expiry ? Number(expiry[1]) : 0,
      exp_year: year && year < 100 ? 2000 + year : year,
      cvc: $("card-cvc").value.trim(),
    };
    const name = $("card-name").value.trim();
    if (name) card.holder_name = name;
    busy($("pay-card"), true);
    const answer = await call("POST", sessionPath("/payments"), {
      phone: $("phone").value.replace(/[\s()-]/g, ""), card, save_card: $("save-card").checked,
    });
    busy($("pay-card"), false);
    if (answer.status >= 200 && answer.status < 300) {
      // The card has done its job: drop it from the page.
      $("card-number").value = "";
      $("card-cvc").value = "";
      $("card-brand").textContent = "";
    }
    follow(answer);
  });

  $("code-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    busy($("verify"), true);
    follow(await call("POST", pending.verify_url, { code: $("code").value.trim() }));
    busy($("verify"), false);
  });

  $("resend").addEventListener("click", async () => {
    clearErrors();
    busy($("resend"), true);
    const answer = await call("POST", pending.resend_url, {});
    busy($("resend"), false);
    follow(answer);
    if (answer.status >= 200 && answer.status < 300) say("A new code is on its way.");
  });

  start();
})();
