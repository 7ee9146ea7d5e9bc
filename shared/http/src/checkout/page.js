"use strict";
// The checkout page's only script, the same in every language: its words come from the page's
// `messages` data block (the catalogue of the page's `lang`). It holds one checkout session's
// client secret, taken from the URL fragment (browsers never send a fragment to a server) and
// at once removed from the address bar; it talks only to that session's routes and follows the
// API's answers (`next_action`, problem `code` and `param`). Card details live only in the form
// fields and the request that carries them: nothing is logged or stored. The one thing kept
// (localStorage) is the session's way back to the shop, for a reload or a lost secret.
(() => {
  const $ = (id) => document.getElementById(id);

  // --- words ------------------------------------------------------------------------------------
  const LANG = document.documentElement.lang;
  const MESSAGES = JSON.parse($("messages").textContent);
  const plural = new Intl.PluralRules(LANG);
  // `t("code.attempts", { n: 2 })`: the message `page.code.attempts.other`, placeholders filled.
  const t = (key, vars = {}) => {
    const text = MESSAGES[`page.${key}`] ?? MESSAGES[`page.${key}.${plural.select(vars.n ?? 0)}`] ?? "";
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
  };

  // --- where the session's routes are ---------------------------------------------------------
  const place = /^(.*)\/checkout\/(cs_[a-z0-9]+)\/?$/.exec(location.pathname);
  const root = place ? place[1] : "";
  const sessionId = place ? place[2] : "";
  // Back from the issuer (3-D Secure) or after switching to the session's language: the secret
  // kept in this tab's sessionStorage before the page left (the fragment does not come back).
  const kept = `checkout-secret:${sessionId}`;
  const params = new URLSearchParams(location.search);
  const redirectResult = params.get("redirectResult");
  const switched = params.has("switched");
  const secret = /^#([A-Za-z0-9_-]{43})$/.exec(location.hash)?.[1] ?? (redirectResult || switched ? sessionStorage.getItem(kept) : null);
  if (switched && !redirectResult) sessionStorage.removeItem(kept);
  // The language stays in the address bar; the secret and the acquirer's result leave it.
  params.delete("redirectResult");
  params.delete("switched");
  const query = params.toString() ? `?${params}` : "";
  if (location.hash || redirectResult || switched) history.replaceState(null, "", location.pathname + query);
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

  // One request; a 503 that says when to come back (Retry-After) is sent again, twice at most,
  // with the same Idempotency-Key, so that a retry finds what the first attempt did.
  async function call(method, path, body) {
    // The page's language is the one the session speaks to this browser (amounts, SMS).
    const headers = { authorization: `Bearer ${secret}`, "accept-language": LANG };
    const init = { method, headers };
    if (method === "POST") {
      headers["content-type"] = "application/json";
      headers["idempotency-key"] = randomKey();
      init.body = JSON.stringify(body);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(apiUrl(path), init);
        const wait = Number(response.headers.get("retry-after"));
        if (response.status === 503 && wait > 0 && attempt < 2) {
          await new Promise((r) => setTimeout(r, Math.min(wait, 5) * 1000));
          continue;
        }
        const answer = await response.json().catch(() => ({}));
        return { status: response.status, body: answer };
      } catch {
        return { status: 0, body: { code: "network" } };
      }
    }
  }

  // --- the way back to the shop, for a reload or a lost secret ---------------------------------
  const BACK = "checkout-back:";
  const DAY = 86_400_000;
  function rememberBack() {
    try {
      for (let i = localStorage.length - 1; i >= 0; i--) {
        const key = localStorage.key(i);
        if (!key.startsWith(BACK)) continue;
        const entry = JSON.parse(localStorage.getItem(key) || "{}");
        if (!(entry.until > Date.now())) localStorage.removeItem(key);
      }
      if (state.back_url) localStorage.setItem(BACK + sessionId, JSON.stringify({ url: state.back_url, until: Date.parse(state.expires_at) + DAY }));
    } catch { /* storage refused: no way back is remembered */ }
  }
  function rememberedBack() {
    try {
      const entry = JSON.parse(localStorage.getItem(BACK + sessionId) || "{}");
      return /^https?:\/\//.test(entry.url || "") ? entry.url : null;
    } catch {
      return null;
    }
  }

  // --- what the shopper sees --------------------------------------------------------------------
  let state = null;  // the session's state: amount, merchant, saved cards, order, back_url
  const say = (text) => { $("message").textContent = text || ""; };
  // A failure without a field to point at: said, and the focus goes to what was said (the
  // button that was pressed is disabled during the request, and focus would fall to the body).
  const warn = (text) => { say(text); $("message").focus(); };
  const show = (id) => {
    for (const section of ["loading", "saved", "card-form", "code-step", "result"]) $(section).hidden = section !== id;
  };
  const FIELD_OF_PARAM = {
    "card.number": "card-number", "card.exp_month": "card-exp", "card.exp_year": "card-exp", card: "card-exp",
    "card.cvc": "card-cvc", "card.holder_name": "card-name", phone: "phone", code: "code",
  };
  // What to tell a shopper about a field the API refused: plain words, not the API's rule.
  const PLAIN_FIELD = {
    "card-number": "field.card_number", "card-exp": "field.card_expiry", "card-cvc": "field.card_cvc",
    "card-name": "field.card_name", phone: "field.phone", code: "field.code",
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
    error.textContent = text || t(PLAIN_FIELD[id]);
    error.hidden = false;
    $(id).setAttribute("aria-invalid", "true");
    $(id).focus();
    return true;
  }
  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", String(on));
  }
  const amount = () => (state ? state.amount_display : "");
  const merchant = () => (state ? state.merchant_name : "");
  // An end state: its own heading, what happened, what the shopper can do next.
  function showResult(kind, heading, title, detail, { payment = null, retry = false } = {}) {
    stopTimer();
    show("result");
    $("summary").hidden = true;
    $("result").className = kind;
    $("title").textContent = heading;
    document.title = heading;
    $("result-title").textContent = title || "";
    $("result-title").hidden = !title;
    $("result").setAttribute("aria-labelledby", title ? "result-title" : "title");
    $("result-detail").textContent = detail;
    $("result-ref").hidden = !payment;
    $("result-ref").textContent = payment ? t("result.reference", { reference: payment.reference, payment_id: payment.payment_id }) : "";
    $("try-again").hidden = !retry;
    const back = (state && (kind === "success" ? state.return_url || state.back_url : state.back_url)) || rememberedBack();
    $("return-link").hidden = !back;
    if (back) $("return-link").href = back;
    $("result").focus();
  }
  const linkProblem = () => showResult("failure", t("heading.link"), null, t("result.link_detail"));
  const expired = () => showResult("failure", t("heading.expired"), null, t("result.expired_detail"));
  const alreadyPaid = (payment) => showResult("failure", t("heading.already_paid"), null, t("result.already_paid"), { payment });
  // Too many wrong codes locked the payer out: the page says until when, and offers no other
  // card (the platform would refuse it).
  function paused(seconds) {
    const until = seconds > 0
      ? new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" }).format(new Date(Date.now() + seconds * 1000))
      : null;
    return showResult("failure", t("heading.paused"), t("result.stopped"),
      until ? t("result.paused_detail", { time: until }) : t("result.paused_detail_unknown"));
  }

  // --- the card number, grouped as it is typed, and its brand -----------------------------------
  const BRANDS = [
    [/^4/, "Visa"], [/^(5[1-5]|2(2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720))/, "Mastercard"], [/^3[47]/, "American Express"],
    [/^(6011|65|64[4-9])/, "Discover"], [/^35/, "JCB"], [/^62/, "UnionPay"], [/^(36|30[0-5]|38)/, "Diners Club"],
  ];
  const brandOf = (digits) => (BRANDS.find(([pattern]) => pattern.test(digits)) || [null, ""])[1];
  const GROUPS = { "American Express": [4, 6, 5], "Diners Club": [4, 6, 4] };
  function grouped(digits) {
    const out = [];
    let at = 0;
    for (const size of GROUPS[brandOf(digits)] || [4, 4, 4, 4, 3]) {
      if (at >= digits.length) break;
      out.push(digits.slice(at, at + size));
      at += size;
    }
    return out.join(" ");
  }
  $("card-number").addEventListener("input", () => {
    const input = $("card-number");
    const before = input.value.slice(0, input.selectionStart ?? input.value.length).replace(/\D/g, "").length;
    const digits = input.value.replace(/\D/g, "").slice(0, 19);
    input.value = grouped(digits);
    // The caret stays after the same digit.
    let caret = 0;
    for (let seen = 0; caret < input.value.length && seen < before; caret++) if (/\d/.test(input.value[caret])) seen++;
    if (document.activeElement === input) input.setSelectionRange(caret, caret);
    $("card-brand").textContent = brandOf(digits);
  });
  function clearCard() {
    for (const id of ["card-number", "card-exp", "card-cvc", "card-name"]) $(id).value = "";
    $("card-brand").textContent = "";
  }

  // --- the code step ----------------------------------------------------------------------------
  let pending = null;  // the payment's next_action: verify_url, resend_url, expires_at, ...
  let timer = null;
  const stopTimer = () => { clearInterval(timer); timer = null; };
  function tick() {
    const now = Date.now();
    const left = Math.max(0, Math.round((Date.parse(pending.expires_at) - now) / 1000));
    $("countdown").textContent = left > 0
      ? t("code.expires_in", { time: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` })
      : t("code.expired");
    const wait = Math.max(0, Math.ceil((Date.parse(pending.resend_available_at) - now) / 1000));
    const resend = $("resend");
    resend.hidden = pending.sends_remaining === 0;
    resend.disabled = wait > 0;
    resend.textContent = wait > 0 ? t("code.resend_in", { seconds: wait }) : t("code.resend");
  }
  const setAttempts = (n) => { $("attempts").textContent = t("code.attempts", { n }); };
  function showCodeStep(next) {
    pending = next;
    show("code-step");
    const strong = document.createElement("strong");
    strong.id = "sent-to";
    strong.textContent = next.sent_to;
    const [before, after = ""] = t("code.sent").split("{phone}");
    $("sent-to-line").replaceChildren(before, strong, after);
    setAttempts(next.attempts_remaining);
    stopTimer();
    tick();
    timer = setInterval(tick, 1000);
    $("code").value = "";
    $("code").focus();
  }

  // --- following the API ----------------------------------------------------------------------
  const DECLINES = {
    card_declined: "result.card_declined",
    capture_failed: "result.capture_failed",
    code_not_sent: "result.code_not_sent",
  };

  // The issuer wants the shopper (3-D Secure): the page goes where the acquirer says (a GET
  // redirect to an https page; the page's policy allows no form post), keeping the secret in
  // this tab for the way back.
  function authenticate(next) {
    const action = next.acquirer_action || {};
    const target = /^https:\/\//.test(action.url || "") || (local && /^http:\/\/127\.0\.0\.1[:/]/.test(action.url || ""));
    if ((action.method || "GET") !== "GET" || !target) {
      return showResult("failure", t("heading.failed"), t("result.issuer_check"), t("result.issuer_check_detail"), { retry: true });
    }
    sessionStorage.setItem(kept, secret);
    say(t("wait.issuer"));
    location.assign(action.url);
  }

  async function finishAuthentication(payment) {
    show("loading");
    say(t("wait.issuer_back"));
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
    say(t("wait.acquirer"));
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const { status, body } = await call("GET", sessionPath("/state"));
      if (status === 200 && body.payment && !WAITING.includes(body.payment.status)) {
        say("");
        return showPayment(body.payment);
      }
    }
    say("");
    return showResult("success", t("heading.waiting"), null, t("result.waiting_detail", { merchant: merchant() }));
  }

  const brandName = (b) => ({ visa: "Visa", mastercard: "Mastercard", amex: "American Express", unionpay: "UnionPay", jcb: "JCB", discover: "Discover", diners: "Diners Club" }[b] || t("card.brand_unknown"));

  function showPayment(payment, retryAfter = 0) {
    const next = payment.next_action;
    if (WAITING.includes(payment.status)) return awaitAcquirer();
    if (next && next.type === "enter_verification_code") return showCodeStep(next);
    if (next && next.type === "authenticate_with_issuer") return redirectResult ? finishAuthentication(payment) : authenticate(next);
    const card = payment.payment_method ? `${brandName(payment.payment_method.brand)} •••• ${payment.payment_method.last4}` : t("card.brand_unknown");
    const words = { amount: amount(), merchant: merchant(), card };
    if (payment.status === "succeeded") {
      return showResult("success", t("heading.paid", words), t("result.complete"), t("result.complete_detail", words), { payment });
    }
    if (payment.status === "requires_capture") {
      // A manual capture: the funds are held, the shop charges them when it confirms the order.
      return showResult("success", t("heading.authorised", words), t("result.authorised"), t("result.authorised_detail", words), { payment });
    }
    const failure = payment.status === "failed" ? payment.failure_code : null;
    if (failure === "payer_locked" || (failure === "too_many_attempts" && retryAfter > 0)) return paused(retryAfter);
    if (failure === "too_many_attempts") {
      return showResult("failure", t("heading.failed"), t("result.stopped"), t("result.paused_detail_unknown"));
    }
    if (failure === "order_already_paid") return alreadyPaid(payment);
    if (failure) {
      return showResult("failure", t("heading.failed"), t("result.declined"), t(DECLINES[failure] || "result.declined_detail"), { retry: true });
    }
    return showResult("failure", t("heading.failed"), t("result.timed_out"), t("result.timed_out_detail"), { retry: true });
  }

  function follow({ status, body }) {
    if (status >= 200 && status < 300) return showPayment(body);
    switch (body.code) {
      case "incorrect_code": {
        setAttempts(body.attempts_remaining);
        return fieldError("code", t("code.incorrect", { n: body.attempts_remaining }));
      }
      case "code_expired": return fieldError("code", t("code.code_expired"));
      case "invalid_client_secret": return linkProblem();
      case "session_expired": return expired();
      case "session_completed": return start();
      case "no_saved_payment_method":
      case "payment_method_not_found":
      case "card_expired":
        show("card-form");
        return warn(body.code === "card_expired" ? t("problem.card_expired") : t("problem.enter_card"));
      case "sms_rate_limited":
        return warn(t("problem.sms_rate_limited", { n: Math.max(1, Math.ceil((body.retry_after || 60) / 60)) }));
      case "resend_too_soon": return warn(t("problem.resend_too_soon"));
      case "too_many_failures": return paused(body.retry_after || 0);
      case "too_many_declines": return warn(t("problem.too_many_declines"));
      case "too_many_payment_attempts": return warn(t("problem.too_many_payment_attempts"));
      case "send_limit_reached": return warn(t("problem.send_limit_reached"));
      case "order_already_paid": return alreadyPaid(body.payment || null);
      case "network": return warn(t("problem.network"));
      default: break;
    }
    if (body.payment) return showPayment(body.payment, body.retry_after || 0);  // declined, locked, no longer pending
    if (body.param && fieldError(body.param)) return;
    warn(t("problem.unexpected"));
  }

  // --- the session's state decides where the shopper starts --------------------------------------
  function showSummary() {
    const items = state.line_items || [];
    if (!state.description && items.length === 0) return;
    $("summary").hidden = false;
    $("summary").open = items.length <= 3;
    $("description").textContent = state.description || "";
    $("description").hidden = !state.description;
    $("items").replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "item-name";
      name.textContent = item.name;
      const quantity = document.createElement("span");
      quantity.className = "hint";
      quantity.textContent = t("summary.quantity", { quantity: item.quantity });
      const price = document.createElement("span");
      price.className = "item-amount";
      price.textContent = item.amount_display;
      li.append(name, quantity, price);
      return li;
    }));
    $("total").textContent = state.amount_display;
  }

  async function start() {
    if (!sessionId || !secret) return linkProblem();
    const { status, body } = await call("GET", sessionPath("/state"));
    if (status !== 200) return status === 401 ? linkProblem() : follow({ status, body });
    state = body;
    if (state.locale && state.locale !== LANG && !switched) {
      // The session speaks another language than this page (a fixed locale, and a link that
      // lost its `locale`): reload in it, the secret kept in this tab for the way.
      sessionStorage.setItem(kept, secret);
      const next = new URLSearchParams({ locale: state.locale, switched: "1" });
      if (redirectResult) next.set("redirectResult", redirectResult);
      return location.replace(`${location.pathname}?${next}`);
    }
    rememberBack();
    $("merchant").textContent = merchant();
    $("order").textContent = t("order", { order: state.order_id });
    $("order-line").hidden = false;
    $("title").textContent = t("heading.pay", { amount: amount() });
    document.title = t("document.pay", { amount: amount(), merchant: merchant() });
    $("pay-card").textContent = t("pay", { amount: amount() });
    const saved = state.saved_payment_methods[0];
    if (saved) $("pay-saved").textContent = t("saved.pay", { amount: amount(), card: `${saved.brand_name} •••• ${saved.last4}` });
    showSummary();
    if (state.status === "complete" && state.payment) return showPayment(state.payment);
    if (state.status === "expired") return expired();
    if (state.payment && state.payment.next_action) return showPayment(state.payment);
    showStart();
  }
  function showStart() {
    clearErrors();
    const saved = state && state.saved_payment_methods[0];
    show(saved ? "saved" : "card-form");
    (saved ? $("pay-saved") : $("card-number")).focus();
  }
  function restart() {
    clearErrors();
    clearCard();
    $("title").textContent = t("heading.pay", { amount: amount() });
    document.title = t("document.pay", { amount: amount(), merchant: merchant() });
    showSummary();
    show("card-form");
    $("card-number").focus();
  }

  // --- actions ----------------------------------------------------------------------------------
  $("use-new-card").addEventListener("click", () => { clearErrors(); show("card-form"); $("card-number").focus(); });
  $("try-again").addEventListener("click", restart);

  $("pay-saved").addEventListener("click", async () => {
    clearErrors();
    busy($("pay-saved"), true);
    const saved = state.saved_payment_methods[0];
    const answer = await call("POST", sessionPath("/payments/repeat"), saved ? { payment_method_id: saved.id } : {});
    busy($("pay-saved"), false);
    follow(answer);
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
    // The card has done its job: drop it from the page.
    if (answer.status >= 200 && answer.status < 300) clearCard();
    follow(answer);
  });

  $("code-step").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    busy($("verify"), true);
    const answer = await call("POST", pending.verify_url, { code: $("code").value.trim() });
    busy($("verify"), false);
    follow(answer);
  });

  $("resend").addEventListener("click", async () => {
    clearErrors();
    busy($("resend"), true);
    const answer = await call("POST", pending.resend_url, {});
    busy($("resend"), false);
    follow(answer);
    if (answer.status >= 200 && answer.status < 300) say(t("code.sent_again"));
  });

  start();
})();
