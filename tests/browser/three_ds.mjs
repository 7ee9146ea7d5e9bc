// 3-D Secure on the checkout page, in headless Chromium, against `make run ACQUIRER=adyen` (the
// Adyen adapter and its local stand-in): the card the issuer wants to authenticate sends the
// shopper to the (stand-in) issuer's page; its "Confirm" brings them back to the checkout page,
// which posts the result and asks for the SMS code. Run: `make adyen-browser` (needs the stack up).
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const WATCH = process.env.WATCH_ENDPOINT ?? "http://127.0.0.1:9000";
const MOTO = process.env.MOTO_ENDPOINT ?? "http://127.0.0.1:4566";
const digits = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, "0");
const phone = `+86138${digits(8)}`;

const created = await fetch(`${WATCH}/lambda-url/checkout-page/checkout/sessions`, {
  method: "POST",
  headers: { "content-type": "application/json", "x-local-merchant-id": "shop-1" },
  body: JSON.stringify({ user_id: `u-3ds-${digits(6)}`, order_id: `o-${digits(6)}`, amount: 1999, currency: "CNY" }),
});
const session = await created.json();
assert.equal(created.status, 201, JSON.stringify(session));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(session.url);
  await page.waitForSelector("#card-number", { state: "visible" });
  await page.fill("#card-number", "4212 3456 7890 1237");
  await page.fill("#card-exp", "03/30");
  await page.fill("#card-cvc", "737");
  await page.fill("#card-name", "Li Lei");
  await page.fill("#phone", phone);
  await page.click("#pay-card");
  // The issuer's page (the stand-in's), then back.
  await page.waitForSelector("#confirm", { timeout: 15000 });
  await page.click("#confirm");
  await page.waitForSelector("#code", { state: "visible", timeout: 15000 });
  assert.match(page.url(), new RegExp(`/checkout/${session.id}$`), "the result left the address bar");
  let code = null;
  for (let i = 0; i < 50 && !code; i++) {
    const sent = await (await fetch(`${MOTO}/_local/sms?phone=${encodeURIComponent(phone)}`)).json();
    code = sent.length ? /\d{6}/.exec(sent.at(-1))[0] : null;
    if (!code) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(code, "the code was sent after the issuer's confirmation");
  await page.fill("#code", code);
  await page.click("#verify");
  await page.waitForSelector("#result:not([hidden])", { timeout: 20000 });
  const text = await page.locator("#result").textContent();
  console.log(`3-D Secure checkout: ${text.replace(/\s+/g, " ").trim()}`);
} finally {
  await browser.close();
}
