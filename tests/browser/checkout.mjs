// The checkout page end to end in a real headless Chromium (Debian's), against `cargo lambda
// watch` + moto as `make test` starts them (WATCH_ENDPOINT, MOTO_ENDPOINT). Codes are read from
// the SMS moto recorded. Screenshots of every state go to target/browser/.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const WATCH = process.env.WATCH_ENDPOINT;
const MOTO = process.env.MOTO_ENDPOINT;
assert.ok(WATCH && MOTO, "set WATCH_ENDPOINT and MOTO_ENDPOINT (make test does)");
const OUT = new URL("../../target/browser/", import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });

const digits = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, "0");
const phone = `+86138${digits(8)}`;
const user = `u-browser-${digits(8)}`;
const checkoutUrl = (order) =>
  `${WATCH}/lambda-url/checkout-page/checkout?merchant_id=shop-1&order_id=${order}&amount=1999&currency=CNY&user_id=${user}`;

async function smsTo(to) {
  const dump = await (await fetch(`${MOTO}/moto-api/data.json`)).json();
  return (dump.sns?.SMS ?? []).filter((m) => m.phone_number === to).map((m) => m.message);
}
async function codeNumber(n) {
  for (let i = 0; i < 100; i++) {
    const sent = await smsTo(phone);
    if (sent.length >= n) return /\d{6}/.exec(sent[n - 1])[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`SMS number ${n} to ${phone} never arrived`);
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
  const shot = (name) => page.screenshot({ path: `${OUT}${name}.png`, fullPage: true });
  const visible = (selector) => page.locator(selector).waitFor({ state: "visible", timeout: 20_000 });

  // 1. A new shopper: the full form, an inline error from the API, then the code, then success.
  const response = await page.goto(checkoutUrl(`o-${digits(6)}`));
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.match(headers["content-security-policy"], /script-src 'sha256-[^']+'; style-src 'sha256-/);
  assert.equal(headers["x-frame-options"], "DENY");
  await visible("#card-form");
  assert.equal(await page.locator("#saved").isHidden(), true, "no saved card yet");
  assert.equal(await page.locator("h1").textContent(), "Pay CNY 19.99");
  await shot("1-new-shopper");

  await page.fill("#card-number", "4242 4242 4242 4241");
  await page.fill("#card-exp", "12/30");
  await page.fill("#card-cvc", "123");
  await page.fill("#card-name", "Li Lei");
  await page.fill("#phone", phone);
  await page.click("#pay-card");
  await visible("#card-number-error");
  assert.equal(await page.getAttribute("#card-number", "aria-invalid"), "true");
  await shot("2-inline-error");

  await page.fill("#card-number", "4242 4242 4242 4242");
  await page.click("#pay-card");
  await visible("#code-step");
  assert.equal(await page.locator("#sent-to").textContent(), `+86*******${phone.slice(-4)}`);
  assert.match(await page.locator("#countdown").textContent(), /Code expires in [45]:\d\d/);
  assert.equal(await page.locator("#attempts").textContent(), "5 attempts left");
  assert.equal(await page.getAttribute("#code", "autocomplete"), "one-time-code");
  assert.equal(await page.getAttribute("#code", "inputmode"), "numeric");
  assert.equal(await page.locator("#resend").isDisabled(), true, "resend waits for the cooldown");
  assert.equal(await page.inputValue("#card-number"), "", "the card number left the page");
  await shot("3-code-sent");

  await page.fill("#code", await codeNumber(1));
  await page.click("#verify");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment complete");
  assert.equal(await page.locator("#result-detail").textContent(), "You paid CNY 19.99 with Visa •••• 4242.");
  await shot("4-first-payment-complete");

  // 2. The same shopper returns: one tap, a wrong code (attempts left), the right one.
  await page.goto(checkoutUrl(`o-${digits(6)}`));
  await visible("#saved");
  assert.equal(await page.locator("#pay-saved").textContent(), "Pay CNY 19.99 with Visa •••• 4242");
  assert.equal(await page.locator("#card-form").isHidden(), true);
  await shot("5-returning-shopper");
  await page.click("#pay-saved");
  await visible("#code-step");
  const code = await codeNumber(2);
  await page.fill("#code", wrong(code));
  await page.click("#verify");
  await visible("#code-error");
  assert.equal(await page.locator("#code-error").textContent(), "That code is not right. 4 attempts left.");
  assert.equal(await page.locator("#attempts").textContent(), "4 attempts left");
  await shot("6-wrong-code");
  await page.fill("#code", code);
  await page.click("#verify");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment complete");
  await shot("7-repeat-payment-complete");

  // 3. Five wrong codes lock the payment.
  await page.goto(checkoutUrl(`o-${digits(6)}`));
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
  assert.equal(await page.locator("#result-title").textContent(), "Payment locked");
  await shot("8-locked-out");

  // 4. Another new shopper, whose bank declines; this time the code goes in by keyboard alone.
  const declinedUser = `u-browser-${digits(8)}`;
  await page.goto(checkoutUrl(`o-${digits(6)}`).replace(`user_id=${user}`, `user_id=${declinedUser}`));
  await visible("#card-form");
  await page.fill("#card-number", "4000 0000 0000 0002");
  await page.fill("#card-exp", "12/30");
  await page.fill("#card-cvc", "123");
  await page.fill("#phone", phone);
  await page.press("#phone", "Enter");
  await visible("#code-step");
  assert.equal(await page.evaluate(() => document.activeElement.id), "code", "the code field has the focus");
  await page.keyboard.type(await codeNumber(4));
  await page.keyboard.press("Enter");
  await visible("#result");
  assert.equal(await page.locator("#result-title").textContent(), "Payment declined");
  assert.equal(await page.locator("#result-detail").textContent(), "Your bank declined the payment. Try another card.");
  await shot("9-declined");

  // Nothing was kept in the browser, and the CSP let the page's own script and style run
  // (a mismatch would show as console errors).
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
  assert.deepEqual(problems, []);
  console.log(`checkout browser test: 4 flows passed; screenshots in ${OUT}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
