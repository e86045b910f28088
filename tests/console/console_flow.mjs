// Drive the staff console in headless Debian chromium (playwright-core from web/), as a clerk:
//   node tests/console/console_flow.mjs BASE_URL USER PASSWORD PAIR ARTIFACT_DIR
// wrong password; log in; the dashboard; create a station with a pasted GCJ-02 pair (the map
// picker's pin follows); a bad opening_hours next to its field; the site list; log out.
// Prints one JSON object of what it saw (tests/console/test_console_browser.py asserts on it).
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, user, password, pair, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const out = { console: [], pageErrors: [], cspViolations: [], external: [], shots: [], statuses: [] };
const shot = async (page, name) => {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  out.shots.push(file);
};

// Until no htmx request is in flight (htmx marks the requesting element with .htmx-request).
const settled = (page) => page.waitForFunction(() => !document.querySelector('.htmx-request'));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--enable-unsafe-swiftshader'],
});
let status = 0;
try {
  // A phone-sized window: the console must work on a rider-station clerk's phone.
  const page = await browser.newPage({ viewport: { width: 420, height: 860 }, locale: 'zh-CN' });
  page.setDefaultTimeout(20_000);
  // Statuses >= 400 are listed by URL (a wrong password is a 401, a refused form a 422);
  // the browser's own "Failed to load resource" line for them is not an error of the page.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) out.console.push(`${m.text().slice(0, 60)} @ ${m.location().url}:${m.location().lineNumber}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) out.statuses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) out.external.push(r.url()); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

  await page.goto(`${base}/admin/`);
  out.redirectedTo = new URL(page.url()).pathname;
  await page.fill('#username', user);
  await page.fill('#password', 'not-the-password-0');
  await page.click('button[type=submit]');
  out.wrongPassword = (await page.textContent('.error')).trim();
  await page.fill('#password', password);
  await shot(page, 'login');
  await Promise.all([page.waitForURL(`${base}/admin/`), page.click('button[type=submit]')]);
  out.dashboardTitle = (await page.textContent('h1')).trim();
  await shot(page, 'dashboard');

  await page.goto(`${base}/admin/sites/new`);
  await page.waitForFunction(() => document.body.dataset.map === 'loaded');
  await page.fill('#name', '浏览器新建驿站');
  await page.selectOption('#datum', 'gcj02');
  await page.fill('#pair', pair);
  await page.waitForSelector('output.point');
  out.converted = (await page.textContent('output.point')).trim();
  await page.waitForFunction(() => document.querySelector('#lat').value !== '');
  out.pinLat = Number(await page.inputValue('#lat'));
  out.pinLon = Number(await page.inputValue('#lon'));
  await page.check('input[name=amenities][value=microwave]');
  await page.fill('#opening_hours', 'Mo-Su 9-21');
  await page.click('form.site button[type=submit]');
  out.hoursError = (await page.textContent('#opening_hours-error')).trim();
  out.keptName = await page.inputValue('#name');
  // The hours editor: a preset, then Saturday's cell; the string and the preview follow.
  await page.click('button.preset[value=workdays]');
  await page.waitForFunction(() => document.querySelector('#opening_hours').value === 'Mo-Fr 09:00-18:00; PH off');
  await page.fill('#grid_Sa', '10:00-14:00');
  await page.press('#grid_Sa', 'Tab');
  await page.waitForFunction(() => document.querySelector('#opening_hours').value.includes('Sa 10:00-14:00'));
  await settled(page);
  out.generated = await page.inputValue('#opening_hours');
  out.previewRows = await page.$$eval('.preview tbody tr', (rows) => rows.slice(0, 7).map((r) => [...r.cells].map((c) => c.textContent.trim()).filter(Boolean).join(' ')));
  await page.waitForSelector('output.point'); // the refused form came back with the pair
  out.keptPair = await page.inputValue('#pair');
  await shot(page, 'site_form');
  await settled(page);
  await Promise.all([page.waitForURL(/\/admin\/sites\/\d+\?saved=1$/), page.click('form.site button[type=submit]')]);
  out.siteId = Number(new URL(page.url()).pathname.split('/').pop());
  out.saved = (await page.textContent('.flash')).trim();

  await page.goto(`${base}/admin/sites?q=${encodeURIComponent('浏览器新建')}`);
  out.listed = (await page.textContent('table.list tbody')).includes('浏览器新建驿站');
  await page.selectOption('select[name=kind]', 'home');
  await page.waitForFunction(() => !document.querySelector('table.list tbody').textContent.includes('浏览器新建驿站'));
  out.filteredByHtmx = new URL(page.url()).searchParams.get('kind');
  await shot(page, 'sites');

  await page.click('.logout button');
  await page.waitForURL(`${base}/admin/login`);
  await page.goto(`${base}/admin/`);
  out.afterLogout = new URL(page.url()).pathname;
  out.cspViolations = await page.evaluate(() => window.__csp);
} catch (error) {
  out.error = String(error && error.stack || error);
  status = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(status);
