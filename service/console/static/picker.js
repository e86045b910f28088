// The site form's map picker: click or drag the pin; the lat/lon fields follow (WGS-84).
// A pasted pair, once converted by the server (#converted), moves the pin there.
import * as maplibregl from '/static/maplibre/maplibre-gl.mjs';

const $ = (selector) => document.querySelector(selector);
const lat = $('#lat');
const lon = $('#lon');
const start = () => {
  const a = Number.parseFloat(lat.value);
  const b = Number.parseFloat(lon.value);
  return Number.isFinite(a) && Number.isFinite(b) ? [b, a] : null;
};

const here = start();
const map = new maplibregl.Map({
  container: 'picker',
  center: here || [121.544, 29.868],
  zoom: here ? 15 : 8,
  attributionControl: false,
  style: {
    version: 8,
    sources: {
      sites: { type: 'vector', tiles: [`${location.origin}/v1/tiles/{z}/{x}/{y}.mvt`], maxzoom: 22 },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#e9eef2' } },
      {
        id: 'sites', type: 'circle', source: 'sites', 'source-layer': 'sites',
        paint: { 'circle-radius': 4, 'circle-color': '#868e96', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 },
      },
    ],
  },
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }));

const marker = new maplibregl.Marker({ draggable: true, color: '#e8590c' });
const place = (lngLat, fly) => {
  marker.setLngLat(lngLat).addTo(map);
  lat.value = lngLat.lat.toFixed(7);
  lon.value = lngLat.lng.toFixed(7);
  if (fly) map.flyTo({ center: lngLat, zoom: Math.max(map.getZoom(), 15) });
};
if (here) marker.setLngLat(here).addTo(map);
map.on('click', (event) => {
  $('#pair').value = '';
  place(event.lngLat, false);
});
marker.on('dragend', () => {
  $('#pair').value = '';
  place(marker.getLngLat(), false);
});
const follow = () => {
  const out = $('#converted');
  const a = Number.parseFloat(out?.dataset.lat);
  const b = Number.parseFloat(out?.dataset.lon);
  if (Number.isFinite(a) && Number.isFinite(b)) place({ lat: a, lng: b }, true);
};
document.body.addEventListener('htmx:afterSwap', follow);
follow(); // a form shown again with a converted pair
document.body.dataset.picker = 'ready';
map.on('load', () => { document.body.dataset.map = 'loaded'; });
