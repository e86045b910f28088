// The built-in map: the service's own vector tiles (layer `sites`) on a plain background.
// Below zoom 12 the tiles hold clusters (`cluster: true`, `count`), from 12 one point per site.
// Every text shown comes from the API and is set with textContent, never as HTML.
import * as maplibregl from '../maplibre/maplibre-gl.mjs';

const SITE_ZOOM = 12; // the tiles switch from clusters to sites here
const KINDS = {
  station: ['户外劳动者驿站', 'Station', '#e8590c'],
  home: ['职工之家', "Workers' home", '#1c7ed6'],
  facility: ['服务点', 'Facility', '#2f9e44'],
};
const MIXED = '#7048e8'; // a cluster of several kinds

const $ = (selector) => document.querySelector(selector);
const amenityLabels = new Map(); // code -> "微波炉 Microwave oven"

function startView() {
  // `/?lat=30.0176&lon=122.1069&z=14` opens there; anything invalid falls back to Zhejiang.
  const params = new URLSearchParams(location.search);
  const number = (name, min, max, fallback) => {
    const value = Number.parseFloat(params.get(name));
    return Number.isFinite(value) && value >= min && value <= max ? value : fallback;
  };
  return {
    center: [number('lon', -180, 180, 120.6), number('lat', -85, 85, 29.9)],
    zoom: number('z', 0, 22, 7),
  };
}

function filterQuery() {
  // The filters of /v1/sites as a query string; null when no kind is ticked (nothing to draw).
  const query = new URLSearchParams();
  const kinds = [...document.querySelectorAll('input[name=kind]:checked')].map((i) => i.value);
  if (kinds.length === 0) return null;
  if (kinds.length < Object.keys(KINDS).length) query.set('kind', kinds.join(','));
  const amenities = [...document.querySelectorAll('input[name=amenity]:checked')].map((i) => i.value);
  if (amenities.length) query.set($('#amenity-mode').value, amenities.join(','));
  if ($('#open-now').checked) query.set('open_now', 'true');
  return query;
}

function tileUrl(query) {
  // Absolute: tiles are fetched by MapLibre's workers. `{z}/{x}/{y}` must stay unescaped.
  const search = query.toString();
  return `${location.origin}/v1/tiles/{z}/{x}/{y}.mvt${search ? `?${search}` : ''}`;
}

// The tile URL drawn now (the filters as they were when the page was built, or last changed).
let shownTiles = tileUrl(filterQuery() || new URLSearchParams());

const kindColour = ['match', ['get', 'kind'], ...Object.entries(KINDS).flatMap(([k, v]) => [k, v[2]]), MIXED];

const map = new maplibregl.Map({
  container: 'map',
  ...startView(),
  attributionControl: { compact: true, customAttribution: '演示数据，坐标为近似值 Demo data, approximate positions' },
  style: {
    version: 8,
    sources: {
      // maxzoom 22 is the tiles' own: overzoomed tiles would fetch one URL several times at once.
      sites: { type: 'vector', tiles: [shownTiles], maxzoom: 22 },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#e9eef2' } },
      {
        id: 'clusters',
        type: 'circle',
        source: 'sites',
        'source-layer': 'sites',
        filter: ['==', ['get', 'cluster'], true],
        paint: {
          // Bigger and more opaque with more sites: 1, 10, 100, 1000+.
          'circle-radius': ['interpolate', ['linear'], ['ln', ['max', 1, ['get', 'count']]], 0, 5, 2.3, 9, 4.6, 14, 6.9, 20],
          'circle-color': ['case', ['has', 'kind'], kindColour, MIXED],
          'circle-opacity': ['interpolate', ['linear'], ['get', 'count'], 1, 0.55, 50, 0.85],
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': 1.5,
        },
      },
      {
        id: 'sites',
        type: 'circle',
        source: 'sites',
        'source-layer': 'sites',
        filter: ['!', ['has', 'cluster']],
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], SITE_ZOOM, 6, 17, 10],
          'circle-color': kindColour,
          // Open now: full colour; closed: faded; hours not published: in between.
          'circle-opacity': ['match', ['to-string', ['get', 'is_open']], 'true', 1, 'false', 0.3, 0.65],
          'circle-stroke-color': ['match', ['to-string', ['get', 'is_open']], 'true', '#ffffff', '#adb5bd'],
          'circle-stroke-width': ['match', ['to-string', ['get', 'is_open']], 'true', 2.5, 1],
        },
      },
    ],
  },
});
window.yizhanMap = map; // for the browser test and for people poking around in devtools
map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }));

function reloadTiles() {
  const query = filterQuery();
  const visibility = query ? 'visible' : 'none';
  for (const layer of ['clusters', 'sites']) map.setLayoutProperty(layer, 'visibility', visibility);
  if (query && tileUrl(query) !== shownTiles) {
    shownTiles = tileUrl(query);
    map.getSource('sites').setTiles([shownTiles]);
  }
}

function showStatus() {
  // Where we are, and the same view as a link (the address bar follows the map).
  const { lng, lat } = map.getCenter();
  const zoom = map.getZoom();
  const view = `lat=${lat.toFixed(4)}&lon=${lng.toFixed(4)}&z=${zoom.toFixed(1)}`;
  history.replaceState(null, '', `?${view}`);
  $('#status').textContent = `${lat.toFixed(4)}, ${lng.toFixed(4)} · z${zoom.toFixed(1)} · ${
    zoom < SITE_ZOOM ? '聚合 clusters' : '站点 sites'}`;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function loadAmenities() {
  const box = $('#amenities');
  try {
    const { items } = await getJson('/v1/amenities');
    box.replaceChildren(
      ...items.map((a) => {
        amenityLabels.set(a.code, `${a.label} ${a.label_en}`);
        const input = Object.assign(document.createElement('input'), { type: 'checkbox', name: 'amenity', value: a.code });
        const en = Object.assign(document.createElement('span'), { className: 'en', textContent: a.label_en });
        const label = document.createElement('label');
        label.append(input, ` ${a.label} `, en);
        return label;
      }),
    );
  } catch (error) {
    box.textContent = `设施列表加载失败 Could not load amenities (${error.message})`;
  }
}

function todayFrom(timeZone) {
  // Midnight today in the site's own zone, as RFC 3339 (the offset is today's current one).
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', timeZoneName: 'longOffset',
    }).formatToParts(new Date()).map((p) => [p.type, p.value]),
  );
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.slice(3);
  return `${parts.year}-${parts.month}-${parts.day}T00:00:00${offset}`;
}

function formatIntervals(intervals, from) {
  // "09:00–21:00"; an interval reaching the end of the day shows as 24:00.
  const day = from.slice(0, 10);
  return intervals.map(({ start, end }) => {
    const endTime = end.slice(0, 10) === day ? end.slice(11, 16) : '24:00';
    return `${start.slice(11, 16)}–${endTime}`;
  });
}

let shownSite = null;
async function showSite(id, isOpen) {
  shownSite = id;
  const panel = $('#panel');
  panel.hidden = false;
  $('#site-name').textContent = '加载中… Loading…';
  for (const field of ['#site-name-en', '#site-kind', '#site-open', '#site-address', '#site-hours', '#site-opening-hours', '#site-org']) {
    $(field).textContent = '';
  }
  $('#site-amenities').replaceChildren();
  try {
    const site = await getJson(`/v1/sites/${id}`);
    const from = todayFrom(site.timezone);
    const hours = await getJson(`/v1/sites/${id}/hours?${new URLSearchParams({ from, days: '1' })}`);
    if (shownSite !== id) return; // another click won the race
    const [zh, en] = KINDS[site.kind] || [site.kind, ''];
    $('#site-name').textContent = site.name;
    $('#site-name-en').textContent = site.name_en || '';
    $('#site-kind').textContent = `${zh} ${en}`;
    $('#site-kind').className = `badge kind ${site.kind}`;
    const open = site.status !== 'active' ? false : isOpen;
    $('#site-open').textContent = site.status === 'temporarily_closed' ? '暂停开放 Temporarily closed'
      : site.status === 'closed' ? '已关闭 Closed permanently'
        : open === true ? '开放中 Open now' : open === false ? '未开放 Closed now' : '未公布开放时间 Hours not published';
    $('#site-open').className = `badge ${open === true ? 'open' : open === false ? 'closed' : ''}`;
    $('#site-address').textContent = site.address || '—';
    const today = formatIntervals(hours.intervals, from);
    $('#site-hours').textContent = today.length ? today.join(', ') : site.opening_hours ? '今日不开放 Closed today' : '—';
    $('#site-opening-hours').textContent = site.opening_hours || '';
    $('#site-amenities').replaceChildren(
      ...site.amenities.map((code) => Object.assign(document.createElement('li'), { textContent: amenityLabels.get(code) || code })),
    );
    if (!site.amenities.length) $('#site-amenities').textContent = '—';
    $('#site-org').textContent = site.org ? site.org.name : '—';
  } catch (error) {
    $('#site-name').textContent = `加载失败 Could not load site ${id}`;
    $('#site-name-en').textContent = error.message;
  }
}

const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 10 });
map.on('mousemove', 'clusters', (event) => {
  const { count, kind } = event.features[0].properties;
  const what = kind && KINDS[kind] ? `${KINDS[kind][0]} ${KINDS[kind][1]}` : '多类 mixed kinds';
  map.getCanvas().style.cursor = 'pointer';
  popup.setLngLat(event.lngLat).setText(`${count} 个站点 sites · ${what} · 点击放大 click to zoom in`).addTo(map);
});
map.on('mouseleave', 'clusters', () => {
  map.getCanvas().style.cursor = '';
  popup.remove();
});
map.on('click', 'clusters', (event) => {
  popup.remove();
  const target = Math.min(map.getZoom() + 2, SITE_ZOOM);
  map.easeTo({ center: event.features[0].geometry.coordinates, zoom: Math.max(target, map.getZoom() + 1) });
});
map.on('mousemove', 'sites', (event) => {
  map.getCanvas().style.cursor = 'pointer';
  popup.setLngLat(event.lngLat).setText(event.features[0].properties.name).addTo(map);
});
map.on('mouseleave', 'sites', () => {
  map.getCanvas().style.cursor = '';
  popup.remove();
});
map.on('click', 'sites', (event) => {
  const { id, is_open: isOpen } = event.features[0].properties;
  showSite(id, isOpen);
});
map.on('moveend', showStatus);
map.on('load', showStatus);

$('#panel-close').addEventListener('click', () => {
  shownSite = null;
  $('#panel').hidden = true;
});
$('#controls').addEventListener('change', () => {
  if (map.getSource('sites')) reloadTiles();
});
map.on('load', reloadTiles); // controls changed before the map was ready
loadAmenities();
