// The checkout page end to end in a real headless Chromium (Debian's), against `cargo lambda
// watch` + moto as `make test` starts them (WATCH_ENDPOINT, MOTO_ENDPOINT). The merchant's
// server is played by fetch() with the local merchant header; the shopper only ever holds the
// session's url. Codes are read from the SMS moto recorded. Every state is checked by axe-core
// (WCAG 2.x A/AA rules) and for the contrast of input borders and the focus ring; screenshots of
// every state go to target/browser/.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const WATCH = process.env.WATCH_ENDPOINT;
const MOTO = process.env.MOTO_ENDPOINT;
assert.ok(WATCH && MOTO, "set WATCH_ENDPOINT and MOTO_ENDPOINT (make test does)");
const OUT = new URL("../../target/browser/", import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const digits = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, "0");
const phone = `+86138${digits(8)}`;
const user = `u-browser-${digits(8)}`;
const RETURN_URL = `${WATCH}/shop/orders`;

// The merchant's server: creates a session, reads it back.
async function createSession(forUser = user, order = `o-${digits(6)}`) {
  const response = await fetch(`${WATCH}/lambda-url/checkout-page/checkout/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-local-merchant-id": "shop-1" },
    body: JSON.stringify({ user_id: forUser, order_id: order, amount: 1999, currency: "CNY", return_url: RETURN_URL }),
  });
  const session = await response.json();
  assert.equal(response.status, 201, JSON.stringify(session));
  return session;
}
async function merchantReads(id) {
  const response = await fetch(`${WATCH}/lambda-url/checkout-page/checkout/sessions/${id}`, {
    headers: { "x-local-merchant-id": "shop-1" },
  });
  return response.json();
}

async function smsTo(to) {
  const dump = await (await fetch(`${MOTO}/moto-api/data.json`)).json();
  return (dump.sns?.SMS ?? []).filter((m) => m.phone_number === to).map((m) => m.message);
}
async function codeNumber(n, to = phone) {
  for (let i = 0; i < 100; i++) {
    const sent = await smsTo(to);
    if (sent.length >= n) return /\d{6}/.exec(sent[n - 1])[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`SMS number ${n} to ${to} never arrived`);
}
const wrong = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  // A phone-sized screen.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const problems = [];
  // Chromium logs every 4xx the API answers; anything else (a CSP violation, a script error) counts.
  page.on("console", (m) => {
    if ((m.type() === "error" || m.type() === "warning") && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  const visible = (selector) => page.locator(selector).waitFor({ state: "visible", timeout: 20_000 });
  // cargo lambda watch now and then answers the ~17 KB page with its own bare 500
  // ({"type":"https://httpstatuses.com/500",...}) while the function served it (issue 14,
  // item 5; the campaign counts these apart too). Such a load is retried, counted and printed;
  // any other answer stands.
  let emulator500s = 0;
  async function open(url) {
    for (let attempt = 0; attempt < 3; attempt++) {
      await page.goto("about:blank");
      const response = await page.goto(url);
      const body = response.status() === 500 ? await response.text() : "";
      if (!body.includes("https://httpstatuses.com/500")) return response;
      emulator500s += 1;
    }
    throw new Error(`the emulator answered 500 three times for ${url}`);
  }
  let states = 0;
  // Every state: a screenshot, axe-core's WCAG A/AA rules, and the non-text contrasts axe
  // leaves out (WCAG 1.4.11: input borders and the focus ring at least 3:1 on white).
  async function check(name) {
    await page.screenshot({ path: `${OUT}${name}.png`, fullPage: true });
    // Evaluated by the DevTools protocol, which the page's CSP does not govern: the page
    // itself still runs only its own hashed script.
    if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(AXE);
    const result = await page.evaluate(() =>
      window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
    const violations = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    assert.deepEqual(violations, [], `${name}: accessibility violations`);
    const contrasts = await page.evaluate(() => {
      const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
      const lum = (c) => {
        const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
      const root = getComputedStyle(document.documentElement);
      const input = document.querySelector("input:not([type=checkbox])");
      return {
        border: input ? ratio(getComputedStyle(input).borderTopColor, "rgb(255, 255, 255)") : null,
        focus: ratio(root.getPropertyValue("--focus").trim().replace(/^#(..)(..)(..)$/, (_, r, g, b) =>
          `rgb(${parseInt(r, 16)}, ${parseInt(g, 16)}, ${parseInt(b, 16)})`), "rgb(255, 255, 255)"),
      };
    });
    assert.ok((contrasts.border === null || contrasts.border >= 3) && contrasts.focus >= 3, `${name}: contrasts ${JSON.stringify(contrasts)}`);
    states += 1;
  }

  // 1. A new shopper: the merchant creates a session; the shopper opens its url.
  const first = await createSession();
  const response = await open(first.url);
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.match(headers["content-security-policy"], /script-src 'sha256-[^']+'; style-src 'sha256-/);
  assert.equal(headers["x-frame-options"], "DENY");
  await visible("#card-form");
  assert.equal(new URL(page.url()).hash, "", "the secret left the address bar");
  assert.equal(await page.locator("#saved").isHidden(), true, "no saved card yet");
  assert.equal(await page.locator("h1").textContent(), "Pay CNY 19.99");
  assert.equal(await page.locator("#merchant").textContent(), "Lotus Tea House");
  await check("1-new-shopper");

  await page.fill("#card-number", "4242 4242 4242 4241");
  assert.equal(await page.locator("#card-brand").textContent(), "Visa", "the brand shows as the number is typed");
  await page.fill("#card-exp", "12/30");
  await page.fill("#card-cvc", "123");
  await page.fill("#card-name", "Li Lei");
  await page.fill("#phone", phone);
  await page.click("#pay-card");
  await visible("#card-number-error");
  assert.equal(await page.getAttribute("#card-number", "aria-invalid"), "true");
  assert.match(await page.locator("#card-number-error").textContent(), /^Check the card number/, "plain words, not the API's rule");
  await check("2-inline-error");

  await page.fill("#card-number", "4242 4242 4242 4242");
  await page.click("#pay-card");
  await visible("#code-step");
  assert.equal(await page.locator("#sent-to").textContent(), `+86*******${phone.slice(-4)}`);
  assert.match(await page.locator("#countdown").textContent(), /Code expires in [45]:\d\d/);
  assert.equal(await page.locator("#attempts").textContent(), "5 attempts left");
  assert.equal(await page.getAttribute("#code", "autocomplete"), "one-time-code");
  assert.equal(await page.locator("#resend").isDisabled(), true, "resend waits for the cooldown");
  assert.equal(await page.inputValue("#card-number"), "", "the card number left the page");
  await check("3-code-sent");

  await page.fill("#code", await codeNumber(1));
  await page.click("#verify");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment complete");
  assert.equal(await page.locator("#result-detail").textContent(), "You paid CNY 19.99 to Lotus Tea House with Visa •••• 4242.");
  assert.match(await page.locator("#result-ref").textContent(), /^Payment reference: pay_[a-z0-9]+$/);
  assert.equal(await page.getAttribute("#return-link", "href"), RETURN_URL);
  assert.equal(await page.locator("h1").textContent(), "Paid CNY 19.99");
  await check("4-first-payment-complete");
  // The merchant confirms on its own server, not by the shopper reaching return_url.
  const confirmed = await merchantReads(first.id);
  assert.equal(confirmed.status, "complete");
  assert.equal(confirmed.payment_status, "succeeded");

  // 2. The paid link, reopened: no second payment is offered.
  await open(first.url);
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment complete");
  assert.equal(await page.locator("#pay-saved").isHidden(), true);

  // 3. The same shopper returns with a new order: one tap, a wrong code, the right one.
  await open((await createSession()).url);
  await visible("#saved");
  assert.equal(await page.locator("#pay-saved").textContent(), "Pay CNY 19.99 with Visa •••• 4242");
  assert.equal(await page.locator("#card-form").isHidden(), true);
  await check("5-returning-shopper");
  await page.click("#pay-saved");
  await visible("#code-step");
  const code = await codeNumber(2);
  await page.fill("#code", wrong(code));
  await page.click("#verify");
  await visible("#code-error");
  assert.equal(await page.locator("#code-error").textContent(), "That code is not right. 4 attempts left.");
  assert.equal(await page.locator("#attempts").textContent(), "4 attempts left");
  await check("6-wrong-code");
  await page.fill("#code", code);
  await page.click("#verify");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment complete");
  await check("7-repeat-payment-complete");

  // 4. Five wrong codes stop the payment; the shopper can start again with a card.
  await open((await createSession()).url);
  await visible("#saved");
  await page.click("#pay-saved");
  await visible("#code-step");
  const third = await codeNumber(3);
  for (let left = 4; left >= 1; left--) {
    await page.fill("#code", wrong(third));
    await page.click("#verify");
    await page.locator("#code-error", { hasText: `${left} attempt` }).waitFor({ timeout: 20_000 });
  }
  await page.fill("#code", wrong(third));
  await page.click("#verify");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment stopped");
  await check("8-locked-out");

  // 5. Another new shopper (another phone: the first one's payer is locked out now), whose bank
  //    declines at once, before any code is sent; "Try another card" reopens the form; a card
  //    that authorises but fails at capture: its code goes in by keyboard alone.
  const phone2 = `+86139${digits(8)}`;
  await open((await createSession(`u-browser-${digits(8)}`)).url);
  await visible("#card-form");
  await page.fill("#card-number", "4000 0000 0000 0002");
  await page.fill("#card-exp", "12/30");
  await page.fill("#card-cvc", "123");
  await page.fill("#phone", phone2);
  await page.press("#phone", "Enter");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment declined");
  assert.equal(await page.locator("#result-detail").textContent(), "Your bank declined the payment. Check the card details, or try another card.");
  assert.equal((await smsTo(phone2)).length, 0, "a declined card costs no SMS");
  await check("9-declined");
  await page.click("#try-again");
  await visible("#card-form");
  assert.equal(await page.evaluate(() => document.activeElement.id), "card-number");
  await check("10-try-another-card");
  await page.fill("#card-number", "4000 0000 0000 0341");
  await page.fill("#card-exp", "12/30");
  await page.fill("#card-cvc", "123");
  await page.fill("#phone", phone2);
  await page.press("#phone", "Enter");
  await visible("#code-step");
  assert.equal(await page.evaluate(() => document.activeElement.id), "code", "the code field has the focus");
  await page.keyboard.type(await codeNumber(1, phone2));
  await page.keyboard.press("Enter");
  await page.locator("#result-detail", { hasText: "did not complete" }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator("#result-title").textContent(), "Payment declined");

  // 6. The page without its secret (a copied address, a reload) shows nothing of the session.
  await open(first.url.split("#")[0]);
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "This link does not work");
  await check("11-link-without-secret");
  const notFound = await page.goto(`${WATCH}/lambda-url/checkout-page/checkout/not-a-session`);
  assert.equal(notFound.status(), 404);
  await check("12-not-found-page");

  // Nothing was kept in the browser, and the CSP let the page's own script and style run
  // (a mismatch would show as console errors).
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.deepEqual(problems, []);
  console.log(`checkout browser test: 6 flows passed, ${states} states checked by axe-core; ` +
    `${emulator500s} page loads retried after the emulator's own 500; screenshots in ${OUT}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
