// Drive the built-in map page in headless Debian chromium (playwright-core from web/).
//   node tests/web/map_page.mjs BASE_URL STATION_ID ARTIFACT_DIR
// Prints one JSON object with what it saw; tests/web/test_map_page.py asserts on it. Every
// wait has a timeout, and the process exits non-zero (with the error in the JSON) on failure.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const [base, stationArg, artifacts] = process.argv.slice(2);
const STATION = Number(stationArg);
const DINGHAI = [122.1069, 30.0176]; // [lon, lat] of the Dinghai East Gate station
const pending = new Set(); // requests in flight, listed when something times out
const out = { console: [], warnings: [], pageErrors: [], failed: [], aborted: [], httpErrors: [], external: [], tiles: [] };

// Resolve once the map has loaded and drawn everything it needs for the current view and
// filters. MapLibre's `idle` event alone is not enough: when a tile finishes loading after
// a quick filter change it sometimes never fires, though the canvas is complete. So also
// poll `loaded()`, starting a frame after the change; on a timeout, say what is pending.
const idle = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const map = window.yizhanMap;
  let calm = 0;
  let poll;
  const done = () => {
    map.off('idle', done);
    clearInterval(poll);
    clearTimeout(timer);
    map.redraw(); // the canvas shows exactly what is loaded, for pixel reads
    resolve();
  };
  const timer = setTimeout(() => {
    clearInterval(poll);
    const tiles = Object.values(map.style.tileManagers).map((m) => m._inViewTiles.getAllTiles()
      .map((t) => `${t.tileID.canonical.z}/${t.tileID.canonical.x}/${t.tileID.canonical.y}:${t.state}`));
    reject(new Error(`the map did not settle within 20 s: ${JSON.stringify({ loaded: map.loaded(), moving: map.isMoving(), tiles })}`));
  }, 20_000);
  map.once('idle', done);
  requestAnimationFrame(() => {
    poll = setInterval(() => {
      calm = map.loaded() && !map.isMoving() ? calm + 1 : 0;
      if (calm >= 3) done();
    }, 50);
  });
  map.triggerRepaint();
}));

// What the map draws: rendered features of `layer`, with their screen position.
const rendered = (page, layer) => page.evaluate((layer) => {
  const map = window.yizhanMap;
  return map.queryRenderedFeatures({ layers: [layer] }).map((f) => ({
    ...f.properties,
    lngLat: f.geometry.coordinates,
    px: map.project(f.geometry.coordinates),
  }));
}, layer);

// Page coordinates of a [lon, lat] and the ids of sites drawn right there.
const at = (page, lngLat) => page.evaluate((lngLat) => {
  const map = window.yizhanMap;
  const p = map.project(lngLat);
  const box = map.getCanvas().getBoundingClientRect();
  const hits = map.queryRenderedFeatures([[p.x - 2, p.y - 2], [p.x + 2, p.y + 2]], { layers: ['sites'] });
  return { x: box.left + p.x, y: box.top + p.y, ids: hits.map((f) => f.properties.id) };
}, lngLat);

// The colour on screen at page coordinates (x, y), read back from a screenshot.
// The tile URL template the map's source uses now (the last request may be a late one).
async function sourceTiles(page) {
  return page.evaluate(() => window.yizhanMap.getSource('sites').tiles[0]);
}

async function pixel(page, x, y) {
  const png = await page.screenshot({ clip: { x: Math.round(x), y: Math.round(y), width: 1, height: 1 } });
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 1;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return [...ctx.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  }, png.toString('base64'));
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // WebGL in software: newer chromium no longer falls back to SwiftShader on its own.
    '--enable-unsafe-swiftshader',
  ],
});
let status = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(30_000);
  page.on('console', (m) => {
    if (m.type() === 'error') out.console.push(m.text());
    else if (m.type() === 'warning') out.warnings.push(m.text());
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('pageerror', (e) => out.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => {
    // MapLibre cancels tile requests it no longer needs (zoom, setTiles): not a failure.
    const aborted = r.failure()?.errorText === 'net::ERR_ABORTED';
    (aborted ? out.aborted : out.failed).push(`${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) out.httpErrors.push(`${r.status()} ${r.url()}`);
  });
  page.on('request', (r) => {
    pending.add(r);
    if (r.url().includes('/v1/tiles/')) out.tiles.push(r.url().slice(base.length));
  });
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('requestfailed', (r) => pending.delete(r));
  // Nothing may leave the machine: no CDN, no glyphs, no sprites.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    out.external.push(url);
    return route.abort();
  });

  // 1. At the Dinghai East Gate, zoom 15: one point per site.
  const response = await page.goto(`${base}/?lat=${DINGHAI[1]}&lon=${DINGHAI[0]}&z=15`);
  out.status = response.status();
  out.csp = response.headers()['content-security-policy'] ?? null;
  await page.waitForFunction(() => window.yizhanMap?.loaded());
  await idle(page);
  out.view = await page.evaluate(() => ({ zoom: window.yizhanMap.getZoom(), center: window.yizhanMap.getCenter() }));
  const sites = await rendered(page, 'sites');
  out.sites = sites.map(({ id, kind, is_open: isOpen }) => ({ id, kind, is_open: isOpen }));
  const station = sites.find((f) => f.id === STATION) ?? null;
  const expected = await at(page, DINGHAI);
  out.station = station && { id: station.id, name: station.name, kind: station.kind, is_open: station.is_open };
  // Screen position of the rendered feature vs map.project of the fixture coordinates.
  out.stationOffsetPx = station && await page.evaluate(([a, b]) => {
    const map = window.yizhanMap;
    const p = map.project(a);
    const q = map.project(b);
    return Math.hypot(p.x - q.x, p.y - q.y);
  }, [station.lngLat, DINGHAI]);
  out.idsAtStation = expected.ids;
  out.colourAtStation = await pixel(page, expected.x, expected.y);
  out.amenityLabels = await page.$$eval('#amenities label', (ls) => ls.map((l) => l.textContent.trim()));

  // 2. Untick "station": only homes and facilities remain.
  await page.uncheck('input[name=kind][value=station]');
  await idle(page);
  out.withoutStations = {
    kinds: [...new Set((await rendered(page, 'sites')).map((f) => f.kind))].sort(),
    idsAtStation: (await at(page, DINGHAI)).ids,
    colourAtStation: await pixel(page, expected.x, expected.y),
    tile: out.tiles.at(-1),
  };
  await page.check('input[name=kind][value=station]');
  await idle(page);

  // 3. Open now: only open sites (the test's "now" is Monday 12:00; the station is open).
  await page.check('#open-now');
  await idle(page);
  const openSites = await rendered(page, 'sites');
  out.openNow = { tile: await sourceTiles(page), open: [...new Set(openSites.map((f) => f.is_open))], ids: openSites.map((f) => f.id) };
  await page.uncheck('#open-now');
  await idle(page);

  // 4. An amenity (the station has a microwave).
  await page.check('input[name=amenity][value=microwave]');
  await idle(page);
  out.microwave = { tile: await sourceTiles(page), ids: (await rendered(page, 'sites')).map((f) => f.id) };
  await page.uncheck('input[name=amenity][value=microwave]');
  await idle(page);

  // 5. A click on the station opens its details.
  const target = await at(page, DINGHAI);
  await page.mouse.click(target.x, target.y);
  await page.waitForFunction(() => document.querySelector('#site-hours').textContent !== '');
  out.panel = await page.evaluate(() => Object.fromEntries(
    ['site-name', 'site-name-en', 'site-kind', 'site-open', 'site-address', 'site-hours', 'site-opening-hours', 'site-amenities', 'site-org']
      .map((id) => [id, document.getElementById(id).textContent.trim()]),
  ));
  out.panelVisible = await page.isVisible('#panel');
  await page.mouse.move(5, 400); // no hover popup in the picture
  await idle(page);
  mkdirSync(artifacts, { recursive: true });
  out.screenshot = path.join(artifacts, 'map.png');
  await page.screenshot({ path: out.screenshot });

  out.cspViolations = await page.evaluate(() => window.__cspViolations);

  // 6. The default view: Zhejiang at zoom 7, in clusters; hover shows a count, click zooms in.
  await page.goto(`${base}/`);
  await page.waitForFunction(() => window.yizhanMap?.loaded());
  await idle(page);
  out.defaultView = await page.evaluate(() => ({ zoom: window.yizhanMap.getZoom(), center: window.yizhanMap.getCenter() }));
  const clusters = await rendered(page, 'clusters');
  out.clusters = clusters.map(({ count, cluster, kind }) => ({ count, cluster, kind: kind ?? null }));
  out.sitesAtZoom7 = (await rendered(page, 'sites')).length;
  const biggest = clusters.sort((a, b) => b.count - a.count)[0];
  if (biggest) {
    const box = await page.evaluate(() => window.yizhanMap.getCanvas().getBoundingClientRect().toJSON());
    await page.mouse.move(box.left + biggest.px.x, box.top + biggest.px.y);
    await page.waitForSelector('.maplibregl-popup');
    out.clusterPopup = (await page.textContent('.maplibregl-popup')).trim();
    // The popup describes the topmost cluster under the mouse (clusters may overlap).
    out.clusterCount = await page.evaluate((p) => window.yizhanMap.queryRenderedFeatures([p.x, p.y], { layers: ['clusters'] })[0].properties.count, biggest.px);
    out.clustersScreenshot = path.join(artifacts, 'map-clusters.png');
    await page.screenshot({ path: out.clustersScreenshot });
    await page.evaluate(() => {
      window.__moved = new Promise((resolve, reject) => {
        setTimeout(() => reject(new Error('no moveend within 20 s of the click')), 20_000);
        window.yizhanMap.once('moveend', resolve);
      });
    });
    await page.mouse.click(box.left + biggest.px.x, box.top + biggest.px.y);
    await page.evaluate(() => window.__moved);
    await idle(page);
    out.zoomAfterClusterClick = await page.evaluate(() => window.yizhanMap.getZoom());
  }
  out.cspViolations.push(...(await page.evaluate(() => window.__cspViolations)));
} catch (error) {
  out.error = String(error?.stack ?? error);
  out.pending = [...pending].map((r) => r.url());
  status = 1;
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(status);
