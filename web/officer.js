// SPDX-License-Identifier: Apache-2.0
// The officer console: the open referrals (GET /v1/referrals?open=1), one transaction's timeline
// and audit trail (GET /v1/clearances/{txn}), the candidate's full record (GET /v1/travellers/
// {id}, officer role) and the resolution (POST /v1/referrals/{txn}/resolve).
import { $, api, initPage, fillTable, fmtTime, showError, t } from './app.js';
import { onLangChange } from './i18n.js';

let current = null;
let rows = [];

function button(label, fn) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', fn);
  return b;
}

function drawQueue() {
  fillTable($('#queue'), rows.map((r) => [r.txn, r.gate, t(`r.${r.reason}`), fmtTime(r.ended_at || r.started_at),
    button(t('off.open'), () => open(r.txn))]));
  [...$('#queue').children].forEach((tr, i) => {
    tr.dataset.txn = rows[i].txn;
    tr.classList.toggle('selected', rows[i].txn === current);
  });
  $('#empty').hidden = rows.length > 0;
}

async function loadQueue() {
  showError($('#error'), null);
  try {
    rows = (await api('GET', '/v1/referrals?open=1&limit=100')).referrals;
  } catch (e) {
    showError($('#error'), e);
    rows = [];
  }
  drawQueue();
}

function dl(pairs) {
  const d = document.createElement('dl');
  for (const [k, v] of pairs) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    d.append(dt, dd);
  }
  return d;
}

async function open(id) {
  current = id;
  drawQueue();
  showError($('#error'), null);
  try {
    const c = await api('GET', `/v1/clearances/${id}`);
    $('#detail').hidden = false;
    $('#dTxn').textContent = String(c.txn);
    $('#dSummary').textContent = `${c.gate} · ${t(`prog.${c.programme}`)} · ${c.decision} · ${t(`r.${c.reason}`)}`;
    fillTable($('#steps'), (c.steps || []).map((s) => [fmtTime(s.at), s.step, s.result, s.score == null ? '' : s.score.toFixed(3)]));
    fillTable($('#audit'), (c.audit || []).map((a) => [a.seq, fmtTime(a.at), a.actor, a.action, a.detail]));
    const rec = $('#record');
    if (c.traveller) {
      try {
        const tr = await api('GET', `/v1/travellers/${c.traveller}`);
        const docs = (tr.documents || []).map((d) => `${d.type} ${d.number}`).join('; ');
        const elig = Object.entries(tr.eligibility || {}).map(([p, e]) => `${t(`prog.${p}`)}: ${e.eligible ? t('enr.eligible') : t('enr.noteligible')}`).join('; ');
        rec.replaceChildren(dl([[t('enr.name_latin'), tr.name_latin], [t('enr.name_local'), tr.name_local], [t('enr.birth'), tr.birth],
          [t('enr.nationality'), tr.nationality], [t('enr.documents'), docs], [t('enr.memberships'), elig], ['status', tr.status]]));
      } catch (e) {
        rec.textContent = e.message;
      }
    } else {
      rec.textContent = t('off.norecord');
    }
    $('#outcome').focus();
  } catch (e) {
    showError($('#error'), e);
  }
}

$('#resolve').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (current == null) return;
  try {
    const body = { outcome: $('#outcome').value };
    if ($('#note').value.trim() !== '') body.note = $('#note').value.trim();
    await api('POST', `/v1/referrals/${current}/resolve`, body);
    $('#status').textContent = t('off.resolved', { txn: current });
    $('#note').value = '';
    $('#detail').hidden = true;
    current = null;
    await loadQueue();
    $('#refresh').focus();
  } catch (e) {
    showError($('#error'), e);
  }
});
$('#refresh').addEventListener('click', loadQueue);
onLangChange(drawQueue);
$('#keyHelp').textContent = t('key.needed', { role: 'officer' });
initPage(loadQueue);
