// SPDX-License-Identifier: Apache-2.0
// The browser suite: the real `clearway serve` (argv[2]) on an ephemeral loopback port with a
// fresh SQLite store, Debian's chromium driven by playwright-core (headless, --no-sandbox,
// background networking off). A clerk enrols a traveller from a photo file and a synthetic
// fingerprint; the kiosk clears them through the document-free channel, the front face from
// Chromium's fake camera playing a Y4M file of their face (masked hint, front
// open, inside face + fingerprint, rear open); a stranger is referred, the referral appears in
// the officer console and disappears once resolved; the dashboard's count changes; the same face
// enrolled again shows the duplicate-identity warning. Screenshots
// of every page at 1280x800 and 768x1024 go to argv[3]. Exit 77 (ctest skip) without chromium.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [clearway, shots, deps] = process.argv.slice(2);
const CHROMIUM = process.env.CW_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: no chromium at ${CHROMIUM} (tools/setup/apt-packages.txt installs it)`);
  process.exit(77);
}
const { pathToFileURL } = await import('node:url');
const { chromium } = await import(pathToFileURL(path.resolve(deps, 'npm/playwright-core/index.mjs')).href);
const photo = (n) => path.join(deps, `npm/face-api/demo/sample${n}.jpg`);
// The sample photos show several people; a gate sees one. Each test face is the first face the
// detector finds (`clearway face detect`), cropped with a margin by the browser's canvas.
const faces = {};
async function cropFace(browser, n, out) {
  const text = execFileSync(clearway, ['face', 'detect', photo(n)], { encoding: 'utf8' });
  const m = text.match(/face 0: box ([\d.]+),([\d.]+)-([\d.]+),([\d.]+)/);
  if (!m) throw new Error(`no face in sample${n}: ${text}`);
  const [x0, y0, x1, y1] = m.slice(1).map(Number);
  const p = await browser.newPage();
  const b64 = fs.readFileSync(photo(n)).toString('base64');
  const url = await p.evaluate(async ({ b64, x0, y0, x1, y1 }) => {
    const img = new Image();
    img.src = `data:image/jpeg;base64,${b64}`;
    await img.decode();
    const w = x1 - x0, h = y1 - y0, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, s = Math.max(w, h) * 1.3;
    const c = document.createElement('canvas');
    c.width = Math.round(2 * s * 0.8);
    c.height = Math.round(2 * s);
    c.getContext('2d').drawImage(img, cx - s * 0.8, cy - s, c.width, c.height, 0, 0, c.width, c.height);
    return c.toDataURL('image/jpeg', 0.95);
  }, { b64, x0, y0, x1, y1 });
  await p.close();
  fs.writeFileSync(out, Buffer.from(url.split(',')[1], 'base64'));
  return out;
}
const sample = (n) => faces[n];

// A one-frame Y4M video (4:2:0, even sides) of a JPEG, for Chromium's fake camera: the browser
// decodes the picture, this converts its pixels to YUV (BT.601, full range).
async function writeY4m(browser, jpeg, out) {
  const p = await browser.newPage();
  const b64 = fs.readFileSync(jpeg).toString('base64');
  const { w, h, px } = await p.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/jpeg;base64,${b64}`;
    await img.decode();
    const w = img.naturalWidth & ~1, h = img.naturalHeight & ~1;
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    return { w, h, px: Array.from(g.getImageData(0, 0, w, h).data) };
  }, b64);
  await p.close();
  const Y = Buffer.alloc(w * h), U = Buffer.alloc((w / 2) * (h / 2)), V = Buffer.alloc((w / 2) * (h / 2));
  const clip = (v) => Math.max(0, Math.min(255, Math.round(v)));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x), r = px[i], gg = px[i + 1], b = px[i + 2];
      Y[y * w + x] = clip(0.299 * r + 0.587 * gg + 0.114 * b);
      if (!(x & 1) && !(y & 1)) {
        const j = (y / 2) * (w / 2) + x / 2;
        U[j] = clip(128 - 0.168736 * r - 0.331264 * gg + 0.5 * b);
        V[j] = clip(128 + 0.5 * r - 0.418688 * gg - 0.081312 * b);
      }
    }
  }
  fs.writeFileSync(out, Buffer.concat([Buffer.from(`YUV4MPEG2 W${w} H${h} F30:1 Ip A1:1 C420jpeg\nFRAME\n`), Y, U, V]));
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cw-web-'));
fs.mkdirSync(shots, { recursive: true });
const config = { ports: [{ code: 'HKG', gates: [
  { code: 'E01', programme: 'document_free' }, { code: 'C01', programme: 'contactless' },
  { code: 'S01', programme: 'smart_departure' }, { code: 'F01', programme: 'flight_token', touchpoint: 'boarding' },
  { code: 'A01', programme: 'closed_area' }] }] };
fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
const finger = path.join(dir, 'finger.png');
execFileSync(clearway, ['finger', 'synth', '3', '0', '-o', finger]);
const finger2 = path.join(dir, 'finger2.png');
execFileSync(clearway, ['finger', 'synth', '3', '1', '-o', finger2]);

const log = fs.openSync(path.join(dir, 'server.log'), 'w');
const srv = spawn(clearway, ['serve', '--db', path.join(dir, 'cw.db'), '--listen', '127.0.0.1:0',
  '--config', path.join(dir, 'config.json')], { stdio: ['ignore', 'pipe', log], env: { ...process.env, CLEARWAY_KEY: '' } });
let browser;
let failed = false;
try {
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not start in 180 s')), 180e3);
    srv.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    srv.on('exit', (c) => reject(new Error(`the server exited with ${c}`)));
  });
  const admin = fs.readFileSync(path.join(dir, 'cw.db.admin-key'), 'utf8').trim();
  const mk = async (body) => {
    const r = await fetch(`${url}/v1/apikeys`, { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return (await r.json()).key;
  };
  const keys = { officer: await mk({ role: 'officer' }), clerk: await mk({ role: 'clerk' }), gate: await mk({ role: 'gate', gate: 'HKG.E01' }) };

  const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'];
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  faces[1] = await cropFace(browser, 1, path.join(dir, 'face1.jpg'));
  faces[2] = await cropFace(browser, 2, path.join(dir, 'face2.jpg'));
  const browser0 = browser;
  // The camera: Chromium's fake capture device plays a Y4M video file, here traveller 1's face,
  // so the kiosk's getUserMedia path (preview, canvas, JPEG) is what sends the front face.
  await writeY4m(browser0, faces[1], path.join(dir, 'camera.y4m'));
  await browser0.close();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...args,
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${path.join(dir, 'camera.y4m')}`] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { console.log(`page error: ${e}`); failed = true; });
  const shoot = async (name) => {
    for (const [w, h] of [[1280, 800], [768, 1024]]) {
      await page.setViewportSize({ width: w, height: h });
      await page.screenshot({ path: path.join(shots, `${name}-${w}x${h}.png`), fullPage: true });
      // Usable at this size: nothing runs off the side of the screen.
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      check(wide <= w, `${name} fits ${w}x${h} without scrolling sideways (${wide} px wide)`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  };
  const open = async (file, key) => {
    await page.goto(`${url}/ui/${file}`);
    // The key is asked once per page and tab (sessionStorage): only the first visit types it.
    if (key && (await page.isVisible('#keyForm'))) {
      await page.fill('#keyInput', key);
      await page.press('#keyInput', 'Enter');
    }
  };

  await page.goto(`${url}/`);
  check(page.url().endsWith('/ui/'), '/ redirects to the landing page');
  await shoot('index');

  // Dashboard before: the number of document-free transactions.
  const docFreeTotal = async () => {
    await page.waitForSelector('body[data-loaded]');
    const rows = await page.$$eval('#totals tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const r = rows.find((x) => x[0] === 'Document-free');
    return r ? Number(r[1]) : 0;
  };
  await open('dashboard.html', keys.officer);
  const before = await docFreeTotal();
  check(before === 0, 'dashboard starts with no document-free transactions');
  check(await page.isVisible('#liveNa') || await page.isVisible('#liveBox'), 'dashboard shows live figures or says they are not available');

  // The enrolment desk, filled for a Hong Kong resident with an identity card, traveller 1's
  // face and the synthetic fingerprint, then submitted.
  const enrol = async (t) => {
    await open('enrol.html', keys.clerk);
    await page.fill('#nameLatin', t.latin);
    await page.fill('#nameLocal', t.local);
    await page.fill('#birth', t.birth);
    await page.selectOption('#residence', 'hong_kong');
    await page.selectOption('fieldset.doc >> nth=0 >> .dtype', 'hk_identity_card');
    await page.fill('fieldset.doc >> nth=0 >> .dnum', t.id);
    await page.fill('fieldset.doc >> nth=0 >> .diss', t.issued);
    await page.fill('fieldset.doc >> nth=0 >> .dexp', t.expires);
    await page.setInputFiles('.cam-file', sample(1));
    await page.setInputFiles('#fingers', [finger]);
    await page.click('#enrol button[type=submit]');
  };

  // Enrol from files.
  await enrol({ latin: 'CHAN Tai Man', local: '陳大文', birth: '1980-02-29', id: 'H1234567',
    issued: '2015-01-01', expires: '2035-12-31' });
  await page.waitForSelector('#result:not([hidden])', { timeout: 60e3 }).catch(() => {});
  const err = await page.textContent('#error');
  check(err === '', `enrolment answered without an error (${err})`);
  check(/ACTIVE/.test(await page.textContent('#resText')), 'the traveller is enrolled ACTIVE');
  check(/eligible/.test(await page.textContent('#elig')), 'eligibility per programme is shown');
  await shoot('enrol');

  // The kiosk: the document-free channel, the front face from the (fake) camera.
  await open('gate.html', keys.gate);
  await page.click('#start');
  await page.waitForSelector('#state[data-action=CAPTURE_FACE]');
  check((await page.textContent('#stateText')) === 'Please look at the camera', 'the kiosk asks for a face');
  await page.click('#faceStep .cam-start');
  await page.waitForSelector('#faceStep .cam-capture:not([disabled])');
  await page.waitForFunction(() => document.querySelector('#faceStep video').videoWidth > 16, null, { timeout: 15e3 });
  await page.click('#faceStep .cam-capture');
  check(await page.isVisible('#faceStep img.preview'), 'the camera frame is captured');
  const frame = await page.$eval('#faceStep video', (v) => `${v.videoWidth}x${v.videoHeight}`);
  await page.click('#sendFace');
  await page.waitForSelector('#confirmStep:not([hidden]), #state[data-action=RETRY], #state[data-action=REFER_TO_OFFICER]', { timeout: 60e3 });
  check(await page.isVisible('#confirmStep'), `the camera's face (a ${frame} frame) is matched: ${await page.textContent('#state')}`);
  const hint = await page.textContent('#hintText');
  check(/^CHAN T\*+ M\*+/.test(hint) && /…/.test(hint), `the masked hint is shown (${hint})`);
  await shoot('gate-confirm');
  await page.click('#confirmYes');
  await page.waitForSelector('#state[data-action=OPEN_FRONT]');
  check(await page.$eval('#state', (e) => e.classList.contains('ok')), 'front gate open, in green');
  await page.setInputFiles('.cam-file', sample(1));
  await page.setInputFiles('#finger', finger2);
  await page.click('#sendInside');
  await page.waitForSelector('#state[data-action=OPEN_REAR], #state[data-action=REFER_TO_OFFICER]', { timeout: 60e3 });
  check((await page.getAttribute('#state', 'data-action')) === 'OPEN_REAR', 'rear gate open: cleared');
  await shoot('gate-cleared');

  // A stranger: referred. The kiosk is worked from the keyboard: Tab reaches "Next traveller",
  // then "Start", and Enter presses each.
  const tabTo = async (sel) => {
    for (let i = 0; i < 30; i++) {
      if (await page.evaluate((q) => document.activeElement === document.querySelector(q), sel)) return true;
      await page.keyboard.press('Tab');
    }
    return false;
  };
  check(await tabTo('#next'), 'Tab reaches "Next traveller"');
  await page.keyboard.press('Enter');
  check(await tabTo('#start'), 'Tab reaches "Start"');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#state[data-action=CAPTURE_FACE]');
  for (let i = 0; i < 5; i++) {
    await page.setInputFiles('.cam-file', sample(2));
    await page.click('#sendFace');
    await page.waitForFunction(() => ['RETRY', 'REFER_TO_OFFICER', 'SHOW_CONFIRMATION'].includes(document.querySelector('#state').dataset.action));
    const a = await page.getAttribute('#state', 'data-action');
    if (a !== 'RETRY') break;
  }
  if ((await page.getAttribute('#state', 'data-action')) === 'SHOW_CONFIRMATION') await page.click('#confirmNo');
  await page.waitForSelector('#state[data-action=REFER_TO_OFFICER]');
  check(await page.$eval('#state', (e) => e.classList.contains('bad')), 'the stranger is sent to an officer, in red');
  check((await page.textContent('#stateText')) === 'Please see an officer', 'the panel says so');
  await page.selectOption('#langSelect', 'zh-Hant');
  check((await page.textContent('#stateText')) === '請向職員求助', 'the panel in Traditional Chinese');
  await shoot('gate-referred');
  await page.selectOption('#langSelect', 'en');

  // The officer console: the referral, its timeline, resolved, gone from the queue.
  await open('officer.html', keys.officer);
  await page.waitForSelector('#queue tr');
  const n = (await page.$$('#queue tr')).length;
  check(n === 1, 'one open referral in the queue');
  await page.click('#queue tr >> nth=0 >> button');
  await page.waitForSelector('#detail:not([hidden])');
  // A stranger referred at the first capture has no recorded steps; the reason and the audit
  // trail (the gate's calls and the decision) show what happened.
  check(/No match/.test(await page.textContent('#dSummary')), 'the transaction shows its reason, localised');
  check(/txn_face/.test(await page.textContent('#audit')), "the audit trail lists the gate's face step");
  check((await page.textContent('#record')) === 'No traveller was identified.', 'no candidate record for a stranger');
  await shoot('officer');
  await page.selectOption('#outcome', 'rejected');
  await page.fill('#note', 'not enrolled; sent to the counter');
  await page.click('#resolve button[type=submit]');
  await page.waitForSelector('#empty:not([hidden])');
  check((await page.$$('#queue tr')).length === 0, 'the referral left the queue after resolve');

  // The port's passenger totals for today (admin), then the dashboard: both transactions
  // counted, the one cleared traveller as a share of 200 passengers, and the live figures.
  const day = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10); // UTC+8, as the reports
  const put = await fetch(`${url}/v1/ports/HKG/passengers/${day}`, { method: 'PUT', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ departing: 120, arriving: 80 }) });
  check(put.status === 200, `the passenger totals are stored (${put.status})`);
  await open('dashboard.html', keys.officer);
  const after = await docFreeTotal();
  check(after === before + 2, `the dashboard counts the two transactions (${before} -> ${after})`);
  const share = await page.$$eval('#share tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const df = share.find((x) => x[0] === 'Document-free');
  check(df && df[1] === '0.5%', `the document-free share is 1 of 200 passengers (${df && df[1]})`);
  check(await page.isVisible('#liveBox'), 'the live figures are shown');
  check(/\(\d+ decisions\)/.test(await page.textContent('#latency')), 'the decision latency is shown');
  await shoot('dashboard');

  // The same face enrolled again under another name: the desk shows the duplicate-identity
  // warning and the record waits for review.
  await enrol({ latin: 'WONG Siu Ming', local: '黃小明', birth: '1975-06-01', id: 'K7654321',
    issued: '2016-01-01', expires: '2036-12-31' });
  await page.waitForSelector('#result:not([hidden]), #error:not(:empty)', { timeout: 60e3 });
  check(await page.isVisible('#result'), `the duplicate is enrolled (${await page.textContent('#error')})`);
  check(/REVIEW/.test(await page.textContent('#resText')), 'the second record of one face waits for REVIEW');
  check(/resembles traveller \d+/.test(await page.textContent('#dup')), `the duplicate-identity warning is shown (${await page.textContent('#dup')})`);
  await shoot('enrol-duplicate');
} catch (e) {
  console.log(`not ok - ${e.message}`);
  console.log(fs.readFileSync(path.join(dir, 'server.log'), 'utf8').split('\n').slice(-20).join('\n'));
  failed = true;
} finally {
  if (browser) await browser.close();
  srv.kill('SIGTERM');
  await new Promise((r) => { if (srv.exitCode !== null) r(); else srv.on('exit', r); });
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
