// SPDX-License-Identifier: Apache-2.0
// The dashboard: GET /v1/reports (users per mode per day, fallback-to-officer rate by reason,
// and, when the report carries "passengers" rows, each mode's share of all passengers) and
// GET /v1/stats/live (gallery size per mode against its cap, decision latency; "not available"
// when the server answers 404). Charts are Chart.js (web/vendor/chart.umd.js, from npm); the
// same figures are in tables so the page works without it and for screen readers.
import { $, api, initPage, fillTable, showError, t } from './app.js';
import { onLangChange } from './i18n.js';

const Chart = window.Chart;
const charts = {};
let report = null;
let live = null;
const COLORS = ['#0b4f9c', '#0a7d32', '#b35c00', '#7a1fa2', '#b3001b', '#00838f'];
const day = (d) => d.toISOString().slice(0, 10);

function chart(id, config) {
  if (!Chart) return;
  charts[id]?.destroy();
  config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  charts[id] = new Chart($(`#${id}`), config);
}

function draw() {
  if (!report) return;
  const rows = report.rows || [];
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const progs = [...new Set(rows.map((r) => r.programme))].sort();
  const sum = (f) => rows.filter(f).reduce((a, r) => a + r.count, 0);
  // Users: transactions that ended cleared, per mode per day.
  chart('usersChart', { type: 'bar', data: { labels: days, datasets: progs.map((p, i) => ({
    label: t(`prog.${p}`), backgroundColor: COLORS[i % COLORS.length],
    data: days.map((d) => sum((r) => r.day === d && r.programme === p && r.decision === 'cleared')) })) },
  options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
  fillTable($('#totals'), progs.map((p) => [t(`prog.${p}`), sum((r) => r.programme === p),
    sum((r) => r.programme === p && r.decision === 'cleared'), sum((r) => r.programme === p && r.decision !== 'cleared' && r.decision !== 'open')]));
  const total = sum(() => true);
  const reasons = [...new Set(rows.filter((r) => r.decision !== 'cleared' && r.decision !== 'open').map((r) => r.reason))].sort();
  const ref = reasons.map((x) => sum((r) => r.reason === x && r.decision !== 'cleared' && r.decision !== 'open'));
  chart('fallbackChart', { type: 'bar', data: { labels: reasons.map((x) => t(`r.${x}`)), datasets: [{ label: t('dash.rate'),
    backgroundColor: '#b3001b', data: ref.map((n) => (total ? (100 * n) / total : 0)) }] },
  options: { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { callback: (v) => `${v}%` } } } } });
  fillTable($('#fallback'), reasons.map((x, i) => [t(`r.${x}`), ref[i], total ? `${((100 * ref[i]) / total).toFixed(1)}%` : '']));
  // Share of passengers: users of each mode over the period's passengers, with the denominators
  // of `clearway report`: departing passengers for the departure-only modes (Smart Departure,
  // Flight Token), departing plus arriving for the others.
  const pax = Array.isArray(report.passengers) ? report.passengers : [];
  const has = pax.length > 0;
  $('#noshare').hidden = has;
  $('#shareBox').hidden = !has;
  if (has) {
    const dep = pax.reduce((a, p) => a + (p.departing || 0), 0);
    const all = pax.reduce((a, p) => a + (p.departing || 0) + (p.arriving || 0), 0);
    const base = (p) => (p === 'smart_departure' || p === 'flight_token' ? dep : all);
    const share = progs.map((p) => (base(p) ? (100 * sum((r) => r.programme === p && r.decision === 'cleared')) / base(p) : 0));
    chart('shareChart', { type: 'bar', data: { labels: progs.map((p) => t(`prog.${p}`)), datasets: [{ label: '%', backgroundColor: '#0a7d32', data: share }] },
      options: { scales: { y: { beginAtZero: true, ticks: { callback: (v) => `${v}%` } } } } });
    fillTable($('#share'), progs.map((p, i) => [t(`prog.${p}`), `${share[i].toFixed(1)}%`]));
  }
  $('#liveNa').hidden = live !== null;
  $('#liveBox').hidden = live === null;
  if (live) {
    const g = live.galleries || [];
    chart('galleryChart', { type: 'bar', data: { labels: g.map((x) => t(`prog.${x.programme}`)), datasets: [
      { label: t('dash.gallery'), backgroundColor: '#0b4f9c', data: g.map((x) => x.size) },
      { label: t('dash.cap'), backgroundColor: '#bbb', data: g.map((x) => x.cap || null) }] },
    options: { scales: { y: { beginAtZero: true } } } });
    const l = live.latency_ms || {};
    $('#latency').textContent = t('dash.latency', { p50: l.p50 ?? '–', p99: l.p99 ?? '–', count: l.count ?? 0 });
    $('#openTxn').textContent = t('dash.open', { n: live.open_transactions ?? 0 });
  }
}

async function load() {
  showError($('#error'), null);
  const q = new URLSearchParams({ from: $('#from').value, to: $('#to').value });
  if ($('#port').value.trim()) q.set('port', $('#port').value.trim());
  try {
    report = await api('GET', `/v1/reports?${q}`);
  } catch (e) {
    showError($('#error'), e);
    return;
  }
  try {
    live = await api('GET', '/v1/stats/live');
  } catch (e) {
    live = null;
    if (e.status !== 404) showError($('#error'), e);
  }
  draw();
  document.body.dataset.loaded = String(Date.now());
}

const now = new Date();
$('#to').value = day(new Date(now.getTime() + 8 * 3600e3)); // the ports' local date (UTC+8)
$('#from').value = day(new Date(now.getTime() + 8 * 3600e3 - 6 * 86400e3));
$('#nochart').hidden = Boolean(Chart);
$('#range').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
onLangChange(draw);
$('#keyHelp').textContent = t('key.needed', { role: 'officer' });
initPage(load);
