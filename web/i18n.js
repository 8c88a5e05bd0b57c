// SPDX-License-Identifier: Apache-2.0
// The pages' strings in English, Traditional Chinese and Simplified Chinese, and the language
// switch. Elements carry data-i18n="key" (text) or data-i18n-ph="key" (placeholder); t() formats
// a string with {name} variables. The choice is kept in localStorage (it is not a secret).
const S = {
  en: {
    'app.title': 'Clearway', 'lang': 'Language',
    'page.gate': 'Gate kiosk', 'page.gate.about': 'Travellers clear themselves (gate key)',
    'page.officer': 'Officer console', 'page.officer.about': 'Referrals, timelines, resolutions (officer key)',
    'page.enrol': 'Enrolment desk', 'page.enrol.about': 'Enrol travellers (clerk key)',
    'page.dashboard': 'Dashboard', 'page.dashboard.about': 'Usage, fallback rates, galleries (officer key)',
    'key.label': 'API key', 'key.save': 'Use this key', 'key.forget': 'Forget key', 'key.needed': 'Enter the API key for this page ({role}). It is kept for this browser tab only.',
    'home': 'Home', 'send': 'Send', 'refresh': 'Refresh', 'load': 'Load', 'none': 'None',
    'gate.code': 'Gate (PORT.GATE)', 'gate.programme': 'Programme', 'gate.start': 'Start', 'gate.next': 'Next traveller', 'gate.abandon': 'Cancel',
    'cam.start': 'Start camera', 'cam.capture': 'Capture', 'cam.file': 'or choose a photo', 'cam.none': 'No camera: choose a photo instead.',
    'gate.face': 'Your face', 'gate.face.send': 'Check my face', 'gate.doc': 'Your document',
    'gate.doc.id': 'Identity card number', 'gate.doc.qr': 'or QR code text', 'gate.doc.mrz': 'Passport MRZ lines', 'gate.doc.chip': 'Chip photo',
    'gate.confirm.q': 'Is this you?', 'gate.confirm.doc': 'document {doc}', 'gate.confirm.yes': 'Confirm', 'gate.confirm.no': 'Not me',
    'gate.inside': 'Inside the gate: face and fingerprint', 'gate.finger': 'Fingerprint (image from the sensor)', 'gate.inside.send': 'Check face and fingerprint',
    'gate.need.face': 'Capture or choose a face photo first.', 'gate.need.finger': 'Choose a fingerprint image first.',
    'act.CAPTURE_FACE': 'Please look at the camera', 'act.PRESENT_DOCUMENT': 'Please present your document', 'act.SHOW_CONFIRMATION': 'Please confirm who you are',
    'act.OPEN_FRONT': 'Front gate open — please step in', 'act.RETRY': 'Please try again', 'act.OPEN_REAR': 'Rear gate open — have a good journey', 'act.REFER_TO_OFFICER': 'Please see an officer',
    'left': 'Captures left: {n}', 'idle': 'Choose a gate and press Start',
    'prog.document_free': 'Document-free', 'prog.contactless': 'Contactless e-Channel', 'prog.smart_departure': 'Smart Departure', 'prog.flight_token': 'Flight Token', 'prog.closed_area': 'Closed area',
    'r.NONE': '', 'r.NO_FACE': 'We cannot see a face. Look at the camera.', 'r.MOVE_CLOSER': 'Please move closer.', 'r.STEP_BACK': 'Please step back a little.',
    'r.OFF_CENTRE': 'Please stand in the middle.', 'r.LOOK_STRAIGHT': 'Please look straight at the camera.', 'r.HOLD_STILL': 'Please hold still.',
    'r.TOO_DARK': 'It is too dark.', 'r.TOO_BRIGHT': 'It is too bright.', 'r.OCCLUDED': 'Please remove anything covering your face.', 'r.MANY_FACES': 'Only one person at a time, please.',
    'r.FINGER_QUALITY': 'Please place your finger again, firmly.', 'r.BAD_IMAGE': 'The picture could not be used. Please try again.',
    'r.NO_MATCH': 'No match', 'r.AMBIGUOUS': 'Ambiguous match', 'r.NOT_ELIGIBLE': 'Not eligible', 'r.FACE_MISMATCH': 'Face does not match', 'r.FINGER_MISMATCH': 'Fingerprint failed',
    'r.LIVENESS': 'Liveness check failed', 'r.RETRIES_EXHAUSTED': 'Quality: too many retries', 'r.DECLINED': 'Traveller said "not me"', 'r.UNKNOWN_DOCUMENT': 'Unknown document',
    'r.TOKEN_INVALID': 'Invalid QR token', 'r.TOKEN_EXPIRED': 'QR token expired', 'r.TOKEN_REVOKED': 'QR token revoked', 'r.TOKEN_REUSED': 'QR token reused',
    'r.MRZ_INVALID': 'Invalid MRZ', 'r.CHIP_FACE_UNUSABLE': 'Chip photo unusable', 'r.TOUCHPOINT_ORDER': 'Touchpoint order', 'r.POPULATION_CAP': 'Gallery over its cap',
    'r.ABANDONED': 'Abandoned', 'r.TIMEOUT': 'Timed out', 'r.INTERNAL_ERROR': 'Internal error',
    'off.queue': 'Referral queue', 'off.empty': 'No open referrals.', 'off.txn': 'Transaction', 'off.gate': 'Gate', 'off.reason': 'Reason', 'off.time': 'Time', 'off.open': 'Open',
    'off.timeline': 'Timeline', 'off.step': 'Step', 'off.result': 'Result', 'off.score': 'Score', 'off.audit': 'Audit trail', 'off.actor': 'Actor', 'off.action': 'Action', 'off.detail': 'Detail',
    'off.record': 'Candidate record', 'off.norecord': 'No traveller was identified.', 'off.resolve': 'Resolve', 'off.outcome': 'Outcome', 'off.cleared': 'Cleared', 'off.rejected': 'Rejected', 'off.note': 'Note', 'off.resolved': 'Transaction {txn} resolved.',
    'enr.identity': 'Identity', 'enr.name_latin': 'Name (Latin)', 'enr.name_local': 'Name (local script)', 'enr.sex': 'Sex', 'enr.birth': 'Date of birth', 'enr.residence': 'Residence', 'enr.nationality': 'Nationality (ISO alpha-3)',
    'enr.documents': 'Documents', 'enr.doctype': 'Type', 'enr.number': 'Number', 'enr.issued': 'Issued', 'enr.expires': 'Expires', 'enr.mrz': 'MRZ (passports)',
    'enr.consents': 'Consents', 'enr.c.face': 'Face templates', 'enr.c.finger': 'Fingerprint templates', 'enr.memberships': 'Programmes',
    'enr.biometrics': 'Biometrics', 'enr.fingers': 'Fingerprint images', 'enr.submit': 'Enrol', 'enr.result': 'Result', 'enr.id': 'Traveller {id}: {status}',
    'enr.dup': 'Warning: resembles traveller {id} — enrolled under REVIEW.', 'enr.eligible': 'eligible', 'enr.noteligible': 'not eligible',
    'dash.range': 'Period', 'dash.from': 'From', 'dash.to': 'To', 'dash.port': 'Port (optional)', 'dash.users': 'Users per mode per day', 'dash.total': 'Transactions', 'dash.cleared': 'Cleared',
    'dash.referred': 'Referred', 'dash.fallback': 'Fallback to officer by reason', 'dash.rate': 'Rate', 'dash.share': 'Share of passengers per mode', 'dash.noshare': 'No passenger totals in this report.',
    'dash.live': 'Live: galleries and latency', 'dash.na': 'Not available (this server has no /v1/stats/live).', 'dash.gallery': 'Gallery size', 'dash.cap': 'Cap', 'dash.latency': 'Decision latency: p50 {p50} ms, p99 {p99} ms ({count} decisions)', 'dash.open': 'Open transactions: {n}',
    'dash.nochart': 'Charts unavailable (web/vendor/chart.umd.js missing: run tools/setup/setup.sh).', 'dash.mode': 'Mode', 'dash.day': 'Day',
  },
  'zh-Hant': {
    'app.title': 'Clearway 自助通關', 'lang': '語言',
    'page.gate': '自助閘口', 'page.gate.about': '旅客自助過關（閘口密鑰）', 'page.officer': '職員控制台', 'page.officer.about': '轉介、時序、處理（職員密鑰）',
    'page.enrol': '登記櫃檯', 'page.enrol.about': '登記旅客（文員密鑰）', 'page.dashboard': '統計儀表板', 'page.dashboard.about': '使用量、轉介率、資料庫（職員密鑰）',
    'key.label': 'API 密鑰', 'key.save': '使用此密鑰', 'key.forget': '清除密鑰', 'key.needed': '請輸入此頁的 API 密鑰（{role}）。只保存在此分頁。',
    'home': '主頁', 'send': '提交', 'refresh': '重新整理', 'load': '載入', 'none': '無',
    'gate.code': '閘口（口岸.閘口）', 'gate.programme': '通關模式', 'gate.start': '開始', 'gate.next': '下一位旅客', 'gate.abandon': '取消',
    'cam.start': '開啟相機', 'cam.capture': '拍攝', 'cam.file': '或選擇相片', 'cam.none': '沒有相機：請選擇相片。',
    'gate.face': '你的面容', 'gate.face.send': '核對面容', 'gate.doc': '你的證件', 'gate.doc.id': '身份證號碼', 'gate.doc.qr': '或二維碼內容', 'gate.doc.mrz': '護照機讀區', 'gate.doc.chip': '晶片相片',
    'gate.confirm.q': '這是你嗎？', 'gate.confirm.doc': '證件 {doc}', 'gate.confirm.yes': '確認', 'gate.confirm.no': '不是我',
    'gate.inside': '閘內：面容及指紋', 'gate.finger': '指紋（感應器影像）', 'gate.inside.send': '核對面容及指紋', 'gate.need.face': '請先拍攝或選擇面容相片。', 'gate.need.finger': '請先選擇指紋影像。',
    'act.CAPTURE_FACE': '請望向鏡頭', 'act.PRESENT_DOCUMENT': '請出示證件', 'act.SHOW_CONFIRMATION': '請確認身份', 'act.OPEN_FRONT': '前閘已開 — 請進入', 'act.RETRY': '請再試一次',
    'act.OPEN_REAR': '後閘已開 — 旅途愉快', 'act.REFER_TO_OFFICER': '請向職員求助', 'left': '尚餘拍攝次數：{n}', 'idle': '請選擇閘口並按開始',
    'prog.document_free': '免證件通關', 'prog.contactless': '非接觸式e-道', 'prog.smart_departure': '智方便離境', 'prog.flight_token': '登機憑證', 'prog.closed_area': '禁區',
    'r.NONE': '', 'r.NO_FACE': '未能看見面容，請望向鏡頭。', 'r.MOVE_CLOSER': '請走近一點。', 'r.STEP_BACK': '請退後一點。', 'r.OFF_CENTRE': '請站在中間。', 'r.LOOK_STRAIGHT': '請直視鏡頭。',
    'r.HOLD_STILL': '請保持不動。', 'r.TOO_DARK': '光線太暗。', 'r.TOO_BRIGHT': '光線太強。', 'r.OCCLUDED': '請移除遮擋面部的物件。', 'r.MANY_FACES': '請一次一人。',
    'r.FINGER_QUALITY': '請再次用力按下手指。', 'r.BAD_IMAGE': '影像未能使用，請再試。', 'r.NO_MATCH': '未能配對', 'r.AMBIGUOUS': '配對不明確', 'r.NOT_ELIGIBLE': '不符合資格',
    'r.FACE_MISMATCH': '面容不符', 'r.FINGER_MISMATCH': '指紋核對失敗', 'r.LIVENESS': '活體檢測失敗', 'r.RETRIES_EXHAUSTED': '質素：重試過多', 'r.DECLINED': '旅客表示「不是我」',
    'r.UNKNOWN_DOCUMENT': '證件不明', 'r.TOKEN_INVALID': '二維碼無效', 'r.TOKEN_EXPIRED': '二維碼過期', 'r.TOKEN_REVOKED': '二維碼已撤銷', 'r.TOKEN_REUSED': '二維碼重複使用',
    'r.MRZ_INVALID': '機讀區無效', 'r.CHIP_FACE_UNUSABLE': '晶片相片不能使用', 'r.TOUCHPOINT_ORDER': '檢查點次序', 'r.POPULATION_CAP': '資料庫超出上限', 'r.ABANDONED': '已放棄', 'r.TIMEOUT': '逾時', 'r.INTERNAL_ERROR': '內部錯誤',
    'off.queue': '轉介隊列', 'off.empty': '沒有待處理轉介。', 'off.txn': '交易', 'off.gate': '閘口', 'off.reason': '原因', 'off.time': '時間', 'off.open': '開啟',
    'off.timeline': '時序', 'off.step': '步驟', 'off.result': '結果', 'off.score': '分數', 'off.audit': '審計記錄', 'off.actor': '操作者', 'off.action': '動作', 'off.detail': '詳情',
    'off.record': '候選人記錄', 'off.norecord': '未能識別旅客。', 'off.resolve': '處理', 'off.outcome': '結果', 'off.cleared': '放行', 'off.rejected': '拒絕', 'off.note': '備註', 'off.resolved': '交易 {txn} 已處理。',
    'enr.identity': '身份', 'enr.name_latin': '英文姓名', 'enr.name_local': '中文姓名', 'enr.sex': '性別', 'enr.birth': '出生日期', 'enr.residence': '居住地', 'enr.nationality': '國籍（ISO 三字母）',
    'enr.documents': '證件', 'enr.doctype': '類別', 'enr.number': '號碼', 'enr.issued': '簽發日期', 'enr.expires': '屆滿日期', 'enr.mrz': '機讀區（護照）',
    'enr.consents': '同意', 'enr.c.face': '面容模板', 'enr.c.finger': '指紋模板', 'enr.memberships': '通關計劃', 'enr.biometrics': '生物特徵', 'enr.fingers': '指紋影像', 'enr.submit': '登記',
    'enr.result': '結果', 'enr.id': '旅客 {id}：{status}', 'enr.dup': '警告：與旅客 {id} 相似 — 已列作審核。', 'enr.eligible': '符合資格', 'enr.noteligible': '不符合資格',
    'dash.range': '期間', 'dash.from': '由', 'dash.to': '至', 'dash.port': '口岸（可選）', 'dash.users': '每日各模式使用人數', 'dash.total': '交易', 'dash.cleared': '放行', 'dash.referred': '轉介',
    'dash.fallback': '按原因轉交職員比率', 'dash.rate': '比率', 'dash.share': '各模式佔旅客比例', 'dash.noshare': '此報告沒有旅客總數。', 'dash.live': '即時：資料庫及延遲',
    'dash.na': '不適用（伺服器沒有 /v1/stats/live）。', 'dash.gallery': '資料庫大小', 'dash.cap': '上限', 'dash.latency': '決定延遲：p50 {p50} 毫秒，p99 {p99} 毫秒（{count} 次）', 'dash.open': '進行中交易：{n}',
    'dash.nochart': '圖表不可用（缺少 web/vendor/chart.umd.js：請執行 tools/setup/setup.sh）。', 'dash.mode': '模式', 'dash.day': '日期',
  },
};
// Simplified Chinese: the Traditional strings with the few characters the pages use converted.
const T2S = { '閘': '闸', '關': '关', '護': '护', '證': '证', '號': '号', '碼': '码', '讀': '读', '區': '区', '晶': '晶', '確': '确', '認': '认', '內': '内', '紋': '纹', '應': '应', '請': '请',
  '鏡': '镜', '頭': '头', '開': '开', '進': '进', '試': '试', '後': '后', '愉': '愉', '協': '协', '助': '助', '餘': '余', '攝': '摄', '擇': '择', '鈕': '钮', '離': '离', '境': '境', '機': '机', '憑': '凭',
  '禁': '禁', '見': '见', '點': '点', '間': '间', '視': '视', '線': '线', '強': '强', '遮': '遮', '擋': '挡', '部': '部', '件': '件', '次': '次', '一': '一', '再': '再', '按': '按', '影': '影', '像': '像',
  '沒': '没', '對': '对', '確': '确', '符': '符', '資': '资', '格': '格', '體': '体', '測': '测', '敗': '败', '質': '质', '過': '过', '多': '多', '無': '无', '效': '效', '撤': '撤', '銷': '销', '複': '复',
  '檢': '检', '查': '查', '序': '序', '庫': '库', '超': '超', '出': '出', '棄': '弃', '時': '时', '誤': '误', '轉': '转', '隊': '队', '列': '列', '處': '处', '理': '理', '原': '原', '因': '因', '啟': '启',
  '審': '审', '計': '计', '記': '记', '錄': '录', '詳': '详', '情': '情', '選': '选', '識': '识', '別': '别', '註': '注', '備': '备', '絕': '绝', '姓': '姓', '國': '国', '籍': '籍', '類': '类', '簽': '签',
  '發': '发', '屆': '届', '滿': '满', '範': '范', '劃': '划', '徵': '征', '結': '结', '與': '与', '似': '似', '審': '审', '核': '核', '統': '统', '儀': '仪', '錶': '表', '板': '板', '數': '数', '報': '报',
  '告': '告', '旅': '旅', '即': '即', '遲': '迟', '伺': '伺', '服': '服', '器': '器', '執': '执', '行': '行', '圖': '图', '表': '表', '缺': '缺', '少': '少', '決': '决', '定': '定', '毫': '毫', '秒': '秒',
  '鑰': '钥', '頁': '页', '保': '保', '存': '存', '此': '此', '分': '分', '清': '清', '除': '除', '載': '载', '整': '整', '員': '员', '櫃': '柜', '檯': '台', '量': '量', '率': '率', '主': '主', '任': '任',
  '控': '控', '制': '制', '台': '台', '登': '登', '帳': '帐', '面': '面', '容': '容', '晶': '晶', '片': '片', '相': '相', '感': '感', '器': '器', '內': '内', '動': '动', '作': '作', '操': '操', '者': '者',
  '單': '单', '這': '这', '嗎': '吗', '門': '门', '來': '来', '時': '时', '態': '态', '狀': '状', '經': '经', '為': '为', '會': '会', '從': '从', '個': '个', '們': '们', '樣': '样', '離': '离', '實': '实',
  '佔': '占', '例': '例', '適': '适', '用': '用', '英': '英', '文': '文', '中': '中', '日': '日', '期': '期', '計': '计', '畫': '画', '居': '居', '住': '住', '地': '地', '別': '别', '性': '性',
  '憑': '凭', '證': '证', '智': '智', '方': '方', '便': '便', '觸': '触', '接': '接', '式': '式', '道': '道', '級': '级', '意': '意', '同': '同', '模': '模', '板': '板', '問': '问', '題': '题', '陳': '陈', '職': '职', '協': '协', '對': '对' };
const toSimp = (s) => s.replace(/./gu, (c) => T2S[c] ?? c);
S['zh-Hans'] = Object.fromEntries(Object.entries(S['zh-Hant']).map(([k, v]) => [k, toSimp(v)]));
S['zh-Hans']['app.title'] = 'Clearway 自助通关';
S['zh-Hans']['prog.contactless'] = '非接触式e-道';
S['zh-Hans']['prog.smart_departure'] = '智方便离境';

export const LANGS = [['en', 'English'], ['zh-Hant', '繁體中文'], ['zh-Hans', '简体中文']];
let lang = localStorage.getItem('cw.lang') || 'en';
if (!S[lang]) lang = 'en';
const listeners = [];

export function t(key, vars = {}) {
  const s = S[lang][key] ?? S.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
}

export function currentLang() { return lang; }

export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll('[data-i18n-ph]').forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
}

export function setLang(l) {
  if (!S[l]) return;
  lang = l;
  localStorage.setItem('cw.lang', l);
  applyI18n();
  listeners.forEach((f) => f());
}

export function onLangChange(f) { listeners.push(f); }

// A labelled <select> in the element with id "lang" (every page has one in its header).
export function mountLangSwitch() {
  const host = document.getElementById('lang');
  if (!host) return;
  const label = document.createElement('label');
  label.className = 'langswitch';
  const span = document.createElement('span');
  span.dataset.i18n = 'lang';
  span.textContent = t('lang') + ' ';
  const sel = document.createElement('select');
  sel.id = 'langSelect';
  for (const [code, name] of LANGS) {
    const o = document.createElement('option');
    o.value = code;
    o.textContent = name;
    sel.append(o);
  }
  sel.value = lang;
  sel.addEventListener('change', () => setLang(sel.value));
  label.append(span, ' ', sel);
  host.replaceChildren(label);
  applyI18n();
}
