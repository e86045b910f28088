// Load the API viewer (/docs, Swagger UI) in headless Debian chromium under its CSP.
//   node tests/web/docs_page.mjs BASE_URL
// Prints one JSON object with what it saw; tests/hostile/test_errors_and_headers.py asserts on it.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base] = process.argv.slice(2);
const out = { console: [], pageErrors: [], failed: [], httpErrors: [], external: [] };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let status = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => { if (m.type() === 'error') out.console.push(m.text()); });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => out.failed.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) out.httpErrors.push(`${r.status()} ${r.url()}`); });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`) || url.startsWith('data:')) return route.continue();
    out.external.push(url);
    return route.abort();
  });
  const response = await page.goto(`${base}/docs`);
  out.status = response.status();
  out.csp = response.headers()['content-security-policy'] ?? null;
  await page.waitForSelector('.swagger-ui .opblock', { timeout: 30_000 });
  out.title = await page.textContent('.swagger-ui .info .title');
  out.operations = await page.locator('.swagger-ui .opblock').count();
  // Open one operation and run it from the page ("Try it out"): connect-src 'self'.
  const amenities = page.locator('.opblock-get', { hasText: '/v1/amenities' }).first();
  await amenities.locator('.opblock-summary').click();
  await amenities.locator('button.try-out__btn').click();
  await amenities.locator('button.execute').click();
  await amenities.locator('.live-responses-table tbody .response-col_status').first().waitFor();
  out.tryItOutStatus = (await amenities.locator('.live-responses-table tbody .response-col_status')
    .first().textContent()).trim();
  out.cspViolations = await page.evaluate(() => window.__cspViolations);
} catch (error) {
  out.error = String(error?.stack ?? error);
  status = 1;
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(status);
