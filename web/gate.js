// SPDX-License-Identifier: Apache-2.0
// The gate kiosk: one transaction at a time at the chosen gate. The next step shown follows the
// transaction's state and the gate's programme (docs/api.md, "The flows"): a face capture, a
// document, the masked confirmation, the inside face + fingerprint; the big panel shows the
// action in colour (green: a gate opens, amber: try again, red: see an officer).
import { $, api, initPage, faceSource, fileToB64, showError, t } from './app.js';
import { onLangChange } from './i18n.js';

let txn = null; // the last answer
let face = null; // the last face picture (base64)
const cam = faceSource($('.face-src'), (b64) => { face = b64; });
const gate = () => encodeURIComponent($('#gateCode').value.trim());
const base = () => `/v1/gates/${gate()}/transactions/${txn.txn}`;

function panel() {
  const st = $('#state');
  st.classList.remove('ok', 'warn', 'bad');
  if (!txn) {
    $('#stateText').textContent = t('idle');
    $('#stateSub').textContent = '';
    return;
  }
  const a = txn.action;
  st.classList.add(a === 'OPEN_FRONT' || a === 'OPEN_REAR' ? 'ok' : a === 'RETRY' ? 'warn' : a === 'REFER_TO_OFFICER' ? 'bad' : 'info');
  st.dataset.action = a;
  $('#stateText').textContent = t(`act.${a}`);
  const why = txn.reason && txn.reason !== 'NONE' ? t(`r.${txn.reason}`) : '';
  const left = a === 'RETRY' || a === 'CAPTURE_FACE' ? t('left', { n: txn.captures_left }) : '';
  $('#stateSub').textContent = [why, left].filter(Boolean).join(' · ');
}

// Which step the traveller is at, from the state and the programme.
function step() {
  if (!txn) return 'none';
  const docFirst = txn.programme === 'contactless' || txn.programme === 'smart_departure';
  switch (txn.state) {
  case 'AWAIT_IDENTITY': return docFirst ? 'doc' : 'face';
  case 'AWAIT_CONFIRMATION': return 'confirm';
  case 'AWAIT_INSIDE': return txn.programme === 'document_free' ? 'inside' : 'face';
  default: return 'done';
  }
}

function render() {
  panel();
  const s = step();
  $('#faceStep').hidden = !(s === 'face' || s === 'inside');
  $('#sendFace').hidden = s !== 'face';
  $('#insideStep').hidden = s !== 'inside';
  $('#docStep').hidden = s !== 'doc';
  $('#docIdQr').hidden = txn?.programme !== 'contactless';
  $('#docMrz').hidden = txn?.programme !== 'smart_departure';
  $('#confirmStep').hidden = s !== 'confirm';
  $('#done').hidden = s !== 'done';
  $('#abandon').hidden = s === 'done' || s === 'none';
  $('#start').disabled = !(s === 'done' || s === 'none');
  if (s === 'confirm' && txn.hint) {
    const h = txn.hint;
    $('#hintText').textContent = `${h.name}${h.name_local ? ` (${h.name_local})` : ''}, ${t('gate.confirm.doc', { doc: h.document })}`;
  }
  const first = { face: '.cam-capture', inside: '#finger', doc: txn?.programme === 'contactless' ? '#idNumber' : '#mrz', confirm: '#confirmYes', done: '#next' }[s];
  if (first && !$(first).disabled) $(first).focus();
}

async function call(path, body) {
  showError($('#error'), null);
  try {
    txn = await api('POST', path, body);
    if (txn.action === 'RETRY' || step() === 'inside' || step() === 'face') {
      face = null;
      cam.clear();
    }
  } catch (e) {
    showError($('#error'), e);
  }
  render();
}

$('#start').addEventListener('click', () => {
  txn = null;
  call(`/v1/gates/${gate()}/transactions`);
});
$('#sendFace').addEventListener('click', () => {
  if (!face) { $('#error').textContent = t('gate.need.face'); return; }
  call(`${base()}/face`, { image: face });
});
$('#sendDoc').addEventListener('click', async () => {
  let body;
  if (txn.programme === 'smart_departure') {
    const f = $('#chip').files[0];
    body = { mrz: $('#mrz').value.trim(), chip_image: f ? await fileToB64(f) : '' };
  } else if ($('#qr').value.trim() !== '') {
    body = { qr: $('#qr').value.trim() };
  } else {
    body = { id_number: $('#idNumber').value.trim() };
  }
  call(`${base()}/document`, body);
});
$('#confirmYes').addEventListener('click', () => call(`${base()}/confirm`, { confirm: true }));
$('#confirmNo').addEventListener('click', () => call(`${base()}/confirm`, { confirm: false }));
$('#sendInside').addEventListener('click', async () => {
  const f = $('#finger').files[0];
  if (!face) { $('#error').textContent = t('gate.need.face'); return; }
  if (!f) { $('#error').textContent = t('gate.need.finger'); return; }
  call(`${base()}/inside`, { face, fingerprint: await fileToB64(f) });
});
$('#abandon').addEventListener('click', () => call(`${base()}/abandon`));
$('#next').addEventListener('click', () => {
  txn = null;
  face = null;
  cam.clear();
  $('#finger').value = '';
  ['#idNumber', '#qr', '#mrz'].forEach((s) => { $(s).value = ''; });
  render();
  $('#start').focus();
});
onLangChange(render);
$('#keyHelp').textContent = t('key.needed', { role: 'gate' });
initPage(render);
