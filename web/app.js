// SPDX-License-Identifier: Apache-2.0
// What every page shares: the API key (asked once, kept in sessionStorage only, never in the
// URL or localStorage), the JSON API client of docs/api.md, images as base64, the camera (a
// getUserMedia preview whose frame is drawn on a canvas and sent as base64 JPEG), and small DOM
// helpers. Nothing here writes personal data anywhere but the page.
import { t, mountLangSwitch, applyI18n } from './i18n.js';

export const $ = (sel, root = document) => root.querySelector(sel);

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.reason = e.reason || '';
    this.body = body;
  }
}

// One key per page: the kiosk, the desk and the dashboard need different roles.
const KEY = `cw.apikey.${location.pathname}`;
export const getKey = () => sessionStorage.getItem(KEY) || '';

// Every page: the language switch, then the key form (id keyForm, input keyInput, forget button
// keyForget); ready() runs once a key is known, and again when another key is entered.
export function initPage(ready) {
  mountLangSwitch();
  const form = $('#keyForm');
  const show = () => {
    const has = getKey() !== '';
    form.hidden = has;
    $('#keyForget').hidden = !has;
    document.querySelectorAll('.needs-key').forEach((el) => { el.hidden = !has; });
    if (has) ready();
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('#keyInput').value.trim();
    if (v === '') return;
    sessionStorage.setItem(KEY, v);
    $('#keyInput').value = '';
    show();
  });
  $('#keyForget').addEventListener('click', () => { sessionStorage.removeItem(KEY); show(); $('#keyInput').focus(); });
  show();
}

// One API call: JSON in and out. Resolves with the parsed answer (and status on it as
// _status); rejects with ApiError for statuses >= 400 and for network failures (status 0).
export async function api(method, path, body) {
  const init = { method, headers: { Authorization: `Bearer ${getKey()}` } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: { message: String(e), reason: 'NETWORK' } });
  }
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : {}; } catch { data = { text }; }
  if (!res.ok) throw new ApiError(res.status, data);
  if (data && typeof data === 'object') data._status = res.status;
  return data;
}

export function fileToB64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

// A face source: a camera preview with a capture button, or a file. Calls onFace(b64, dataUrl)
// whenever a new picture is taken or chosen. Elements inside root: video, button.cam-start,
// button.cam-capture, input.cam-file, img.preview, .cam-msg.
export function faceSource(root, onFace) {
  const video = $('video', root);
  const preview = $('img.preview', root);
  const msg = $('.cam-msg', root);
  let stream = null;
  const set = (b64, url) => { preview.src = url; preview.hidden = false; onFace(b64, url); };
  $('.cam-start', root).addEventListener('click', async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      $('.cam-capture', root).disabled = false;
      msg.textContent = '';
    } catch (e) {
      msg.textContent = t('cam.none');
    }
  });
  $('.cam-capture', root).addEventListener('click', () => {
    if (!stream || video.videoWidth === 0) return;
    const c = document.createElement('canvas');
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    c.getContext('2d').drawImage(video, 0, 0);
    const url = c.toDataURL('image/jpeg', 0.92);
    set(url.replace(/^data:[^,]*,/, ''), url);
  });
  $('.cam-file', root).addEventListener('change', async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    const b64 = await fileToB64(f);
    set(b64, URL.createObjectURL(f));
  });
  return {
    stop() { if (stream) stream.getTracks().forEach((tr) => tr.stop()); stream = null; },
    clear() { preview.hidden = true; preview.removeAttribute('src'); $('.cam-file', root).value = ''; },
  };
}

// Table rows from arrays of cell texts (text only: no HTML from the server is ever injected).
export function fillTable(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const c of cells) {
      const td = document.createElement('td');
      if (c instanceof Node) td.append(c); else td.textContent = c == null ? '' : String(c);
      tr.append(td);
    }
    return tr;
  }));
}

export const fmtTime = (s) => (s ? new Date(s * 1000).toLocaleString() : '');
export const showError = (el, e) => { el.textContent = e ? (e.reason ? `${e.reason}: ${e.message}` : e.message) : ''; };
export { t, applyI18n };
