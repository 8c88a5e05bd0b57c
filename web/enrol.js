// SPDX-License-Identifier: Apache-2.0
// The enrolment desk: one POST /v1/travellers with identity, documents, programmes, consents,
// the face (camera or file) and fingerprint images; shows the eligibility per programme and a
// duplicate-identity warning (status "review", duplicate_of).
import { $, api, initPage, faceSource, fileToB64, fillTable, showError, t } from './app.js';

let face = null;
faceSource($('.face-src'), (b64) => { face = b64; });

$('#enrol').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError($('#error'), null);
  const body = {
    name_latin: $('#nameLatin').value.trim(), name_local: $('#nameLocal').value.trim(), sex: $('#sex').value,
    birth: $('#birth').value, residence: $('#residence').value, nationality: $('#nationality').value.trim().toUpperCase(),
    documents: [], memberships: [...document.querySelectorAll('input[name=prog]:checked')].map((c) => ({ programme: c.value })),
    consents: { face: $('#cFace').checked, fingerprint: $('#cFinger').checked },
  };
  for (const fs of document.querySelectorAll('fieldset.doc')) {
    const type = $('.dtype', fs).value;
    if (!type) continue;
    const d = { type, number: $('.dnum', fs).value.trim() };
    if ($('.diss', fs).value) d.issued = $('.diss', fs).value;
    if ($('.dexp', fs).value) d.expires = $('.dexp', fs).value;
    if ($('.dmrz', fs).value.trim()) d.mrz = $('.dmrz', fs).value.trim();
    body.documents.push(d);
  }
  if (face) body.face = face;
  const fingers = [...$('#fingers').files];
  if (fingers.length) body.fingerprints = await Promise.all(fingers.map(fileToB64));
  try {
    const r = await api('POST', '/v1/travellers', body);
    $('#result').hidden = false;
    $('#result').dataset.id = r.id;
    $('#resText').textContent = t('enr.id', { id: r.id, status: r.status.toUpperCase() });
    $('#dup').textContent = r.duplicate_of ? t('enr.dup', { id: r.duplicate_of }) : '';
    fillTable($('#elig'), Object.entries(r.eligibility || {}).map(([p, e]) => [t(`prog.${p}`),
      e.eligible ? t('enr.eligible') : t('enr.noteligible'), (e.reasons || []).join(', ')]));
    $('#result').scrollIntoView();
  } catch (e) {
    $('#result').hidden = true;
    showError($('#error'), e);
  }
});
$('#keyHelp').textContent = t('key.needed', { role: 'clerk' });
initPage(() => {});
