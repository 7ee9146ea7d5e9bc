"use strict";
// The checkout page's only script. It follows the API's answers (`next_action`, problem `code`
// and `param`) instead of hard-coding the flow. Card details live only in the form fields and
// the request that carries them: nothing is logged or stored.
(() => {
  const $ = (id) => document.getElementById(id);
  const order = $("checkout").dataset;
  const money = { amount: Number(order.amount), currency: order.currency };
  const who = { user_id: order.user, merchant_id: order.merchant, order_id: order.order };

  // A merchant may hand over a short-lived API token in the fragment (never sent to a server by
  // the browser); it is taken out of the address bar at once.
  const fragment = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  const token = fragment ? decodeURIComponent(fragment[1]) : null;
  if (fragment) history.replaceState(null, "", location.pathname + location.search);

  // Behind API Gateway the routes share one origin; under `cargo lambda watch` each function
  // has its own prefix.
  const FUNCTIONS = [
    [/^\/payments$/, "first-payment"],
    [/^\/payments\/repeat$/, "repeat-payment"],
    [/^\/payments\/[^/]+\/(verify|resend)$/, "verify-code"],
  ];
  const apiUrl = (path) => {
    if (order.local !== "true") return path;
    const hit = FUNCTIONS.find(([pattern]) => pattern.test(path));
    return `/lambda-url/${hit ? hit[1] : "payment-status"}${path}`;
  };

  const randomKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  async function post(path, body) {
    const headers = { "content-type": "application/json", "idempotency-key": randomKey() };
    if (token) headers.authorization = `Bearer ${token}`;
    try {
      const response = await fetch(apiUrl(path), { method: "POST", headers, body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({}));
      return { status: response.status, body: answer };
    } catch {
      return { status: 0, body: { detail: "The connection failed. Check your network and try again." } };
    }
  }

  // --- what the shopper sees -------------------------------------------------------------
  const say = (text) => { $("message").textContent = text || ""; };
  const show = (id) => {
    for (const section of ["saved", "card-form", "code-step", "result"]) $(section).hidden = section !== id;
  };
  const FIELD_OF_PARAM = {
    "card.number": "card-number", "card.exp_month": "card-exp", "card.exp_year": "card-exp", card: "card-exp",
    "card.cvc": "card-cvc", "card.holder_name": "card-name", phone: "phone", code: "code",
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
    error.textContent = text;
    error.hidden = false;
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
    return true;
  }
  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", String(on));
  }
  function showResult(kind, title, detail) {
    stopTimer();
    show("result");
    $("result").className = kind;
    $("result-title").textContent = title;
    $("result-detail").textContent = detail;
    $("result").focus();
  }

  // --- the code step ------------------------------------------------------------------------
  let pending = null;  // { verify_url, resend_url, expires_at, resend_available_at, ... }
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
  const setAttempts = (n) => { $("attempts").textContent = `${n} ${n === 1 ? "attempt" : "attempts"} left`; };

  // --- following the API ----------------------------------------------------------------------
  const brand = (b) => ({ visa: "Visa", mastercard: "Mastercard", amex: "American Express", unionpay: "UnionPay", jcb: "JCB", discover: "Discover", diners: "Diners Club" }[b] || "Card");
  const DECLINES = {
    card_declined: "Your bank declined the payment. Try another card.",
    insufficient_funds: "The card has insufficient funds. Try another card.",
    code_not_sent: "We could not send the code. Please try again.",
  };

  function showPayment(payment) {
    const next = payment.next_action;
    if (next && next.type === "enter_verification_code") return showCodeStep(next);
    const method = payment.payment_method ? `${brand(payment.payment_method.brand)} •••• ${payment.payment_method.last4}` : "";
    if (payment.status === "succeeded") {
      return showResult("success", "Payment complete", `You paid ${$("checkout").querySelector(".amount").textContent} with ${method}.`);
    }
    if (payment.status === "failed" && payment.failure_code === "too_many_attempts") {
      return showResult("failure", "Payment locked", "Too many wrong codes. This payment is cancelled; start again to pay.");
    }
    if (payment.status === "failed") {
      return showResult("failure", "Payment declined", DECLINES[payment.failure_code] || "The payment failed.");
    }
    return showResult("failure", "Payment expired", "This payment timed out. Start again to pay.");
  }

  function follow({ status, body }) {
    if (status >= 200 && status < 300) return showPayment(body);
    const next = body.next_action;
    if (next && next.type === "provide_payment_details") {
      show("card-form");
      say(body.detail);
      return;
    }
    if (body.code === "incorrect_code") {
      setAttempts(body.attempts_remaining);
      fieldError("code", `That code is not right. ${body.attempts_remaining} ${body.attempts_remaining === 1 ? "attempt" : "attempts"} left.`);
      return;
    }
    if (body.code === "code_expired") {
      fieldError("code", "This code has expired. Send a new one.");
      return;
    }
    if (body.payment) return showPayment(body.payment);  // declined, locked, no longer pending
    if (body.param && fieldError(body.param, body.detail)) return;
    say(body.detail || "Something went wrong. Please try again.");
  }

  // --- actions ----------------------------------------------------------------------------------
  $("use-new-card").addEventListener("click", () => { clearErrors(); show("card-form"); $("card-number").focus(); });

  $("pay-saved").addEventListener("click", async () => {
    clearErrors();
    busy($("pay-saved"), true);
    const body = { ...who, ...money };
    if (order.method) body.payment_method_id = order.method;
    follow(await post("/payments/repeat", body));
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
    const answer = await post("/payments", {
      ...who, ...money, phone: $("phone").value.replace(/[\s()-]/g, ""), card, save_card: $("save-card").checked,
    });
    busy($("pay-card"), false);
    if (answer.status >= 200 && answer.status < 300) {
      // The card has done its job: drop it from the page.
      $("card-number").value = "";
      $("card-cvc").value = "";
    }
    follow(answer);
  });

  $("code-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    busy($("verify"), true);
    follow(await post(pending.verify_url, { code: $("code").value.trim() }));
    busy($("verify"), false);
  });

  $("resend").addEventListener("click", async () => {
    clearErrors();
    busy($("resend"), true);
    const answer = await post(pending.resend_url, {});
    busy($("resend"), false);
    follow(answer);
    if (answer.status >= 200 && answer.status < 300) say("A new code is on its way.");
  });
})();
