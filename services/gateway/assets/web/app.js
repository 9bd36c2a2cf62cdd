// steno's web app: sign in, upload, follow jobs live, read and correct
// transcripts beside their audio, search. It only calls the REST API,
// signed in by the session cookie; every request that changes something
// carries the X-Steno-CSRF header the API asks cookie sessions for.
'use strict';

const FORMATS = ['srt', 'vtt', 'json', 'txt', 'pdf'];
const LANGUAGES = [['', 'Detect'], ['en', 'English'], ['de', 'German'], ['fr', 'French'], ['es', 'Spanish'],
  ['it', 'Italian'], ['pt', 'Portuguese'], ['nl', 'Dutch'], ['pl', 'Polish'], ['ru', 'Russian'], ['uk', 'Ukrainian'],
  ['el', 'Greek'], ['tr', 'Turkish'], ['ar', 'Arabic'], ['hi', 'Hindi'], ['zh', 'Chinese'], ['ja', 'Japanese'], ['ko', 'Korean']];
const EVENT_KINDS = ['queued', 'started', 'progress', 'text', 'stage_completed', 'retrying', 'completed', 'failed', 'cancelled'];
const TERMINAL = ['completed', 'failed', 'cancelled'];
const PAGE = 50;

let cleanups = [];
let session = null;

// ---- helpers ---------------------------------------------------------

/** An element: `h('a', {href: '#', class: 'x', onclick: f}, 'text', child)`. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

/** Calls the API; a 401 shows the sign-in page, other errors throw their message. */
async function api(path, options = {}) {
  const headers = Object.assign({ 'X-Steno-CSRF': '1' }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers, credentials: 'same-origin' }));
  if (response.status === 401) {
    showSignIn();
    throw new Error('signed out');
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    throw new Error(message || `HTTP ${response.status}`);
  }
  return response;
}
const getJson = async (path) => (await api(path)).json();
const sendJson = async (path, method, body) =>
  (await api(path, { method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })).json();

/** `hh:mm:ss` (or `mm:ss`) of milliseconds. */
function clock(ms) {
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
}

const jobName = (job) => job.upload_name || job.source_url || job.id;
const main = () => document.getElementById('main');
const onLeave = (f) => cleanups.push(f);

/** Replaces the page's content and moves focus to it (for screen readers and keyboards). */
function show(title, ...content) {
  document.title = title ? `${title} · steno` : 'steno';
  main().replaceChildren(...content);
  main().focus({ preventScroll: true });
}

function notice(text, kind = 'error') {
  return h('p', { class: kind, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** Follows Server-Sent Events; closed when the page changes. */
function follow(path, onEvent) {
  const source = new EventSource(path, { withCredentials: true });
  for (const kind of EVENT_KINDS) {
    source.addEventListener(kind, (e) => onEvent(JSON.parse(e.data)));
  }
  onLeave(() => source.close());
  return source;
}

// ---- theme and session ----------------------------------------------

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById('theme');
  button.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
  button.setAttribute('aria-pressed', String(theme === 'dark'));
}

function setUpTheme() {
  const stored = localStorage.getItem('steno-theme');
  const preferred = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  applyTheme(stored || preferred);
  document.getElementById('theme').addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('steno-theme', next);
    applyTheme(next);
  });
}

function showSignIn() {
  session = null;
  cleanups.forEach((f) => f());
  cleanups = [];
  document.getElementById('bar').hidden = true;
  const refused = new URLSearchParams(location.search).get('signin') === 'refused';
  show('Sign in', h('section', { class: 'signin card' },
    h('h1', {}, 'Sign in to steno'),
    h('p', {}, 'Paste your API key. An operator makes one with ', h('code', {}, 'steno keys create --tenant NAME'), '.'),
    refused ? notice('That key was not accepted: it is unknown or revoked.') : null,
    h('form', { method: 'post', action: '/session' },
      h('label', { for: 'key' }, 'API key'),
      h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'current-password', required: true, placeholder: 'steno_…' }),
      h('button', { type: 'submit', id: 'signin' }, 'Sign in'))));
  document.getElementById('key').focus();
}

async function start() {
  setUpTheme();
  try {
    session = await getJson('/v1/session');
  } catch (e) {
    if (e.message !== 'signed out') show('Error', notice(`steno is not answering: ${e.message}`));
    return;
  }
  if (location.search) history.replaceState(null, '', '/' + location.hash);
  document.getElementById('bar').hidden = false;
  document.getElementById('tenant').textContent = session.admin && !session.keys_required ? '' : `Tenant: ${session.tenant}`;
  document.getElementById('signout').hidden = !session.keys_required;
  window.addEventListener('hashchange', route);
  route();
}

// ---- routing ---------------------------------------------------------

async function route() {
  if (!session) return;
  cleanups.forEach((f) => f());
  cleanups = [];
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  for (const link of document.querySelectorAll('.bar nav a')) {
    const current = path.startsWith(link.getAttribute('href').slice(1));
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  try {
    const job = path.match(/^\/jobs\/([^/]+)$/);
    if (path === '/upload') await uploadPage();
    else if (path === '/search') await searchPage(params);
    else if (job) await jobPage(decodeURIComponent(job[1]), params);
    else if (path === '/jobs') await jobsPage();
    else {
      const first = await getJson('/v1/jobs?limit=1');
      location.replace(first.jobs.length ? '#/jobs' : '#/upload');
    }
  } catch (e) {
    if (session) show('Error', notice(e.message));
  }
}

// ---- upload ----------------------------------------------------------

async function uploadPage() {
  const picked = [];
  const list = h('ul', { class: 'picked', 'aria-live': 'polite' });
  const status = h('div', { role: 'status' });
  const fileInput = h('input', { type: 'file', multiple: true, accept: 'audio/*,video/*', id: 'files', 'aria-label': 'Choose files' });
  const addFiles = (files) => {
    for (const file of files) {
      picked.push(file);
      list.append(h('li', {}, `${file.name} (${(file.size / 1e6).toFixed(1)} MB)`));
    }
  };
  fileInput.addEventListener('change', () => addFiles(fileInput.files));
  const drop = h('div', { class: 'drop' },
    h('p', {}, h('strong', {}, 'Drop audio or video files here'), ' or choose them:'), fileInput);
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer.files); });

  const urls = h('textarea', { id: 'urls', rows: 3, placeholder: 'https://example.com/talk.mp3' });
  const language = h('select', { id: 'language' }, LANGUAGES.map(([code, name]) => h('option', { value: code }, name)));
  const model = h('select', { id: 'model' }, h('option', { value: '' }, 'Default'));
  const speakers = h('select', { id: 'speakers' }, h('option', { value: '' }, 'Find out'),
    [1, 2, 3, 4, 5, 6, 8, 10].map((n) => h('option', { value: String(n) }, String(n))));
  const diarize = h('input', { type: 'checkbox', id: 'diarize', checked: true });
  const formats = FORMATS.map((f) => h('input', { type: 'checkbox', value: f, checked: true, id: `format-${f}` }));
  const submit = h('button', { type: 'submit', id: 'transcribe' }, 'Transcribe');

  const form = h('form', { onsubmit: (e) => { e.preventDefault(); submitAll(); } },
    drop, list,
    h('label', { for: 'urls' }, 'Or paste links to media, one a line'), urls,
    h('fieldset', { class: 'options' }, h('legend', {}, 'Options'),
      h('label', {}, 'Language ', language),
      h('label', {}, 'Model ', model),
      h('label', {}, 'Speakers ', speakers),
      h('label', {}, diarize, ' Label speakers'),
      h('div', { class: 'formats', role: 'group', 'aria-label': 'Formats' }, 'Formats: ',
        formats.map((box) => h('label', { for: box.id }, box, ` ${box.value.toUpperCase()}`)))),
    submit, status);
  show('Upload', h('h1', {}, 'Transcribe'), form);

  getJson('/v1/models').then((models) => {
    for (const m of models.data) if (m.id !== 'whisper-1') model.append(h('option', { value: m.id }, m.id));
  }).catch(() => { /* only the default */ });

  function options() {
    const chosen = formats.filter((b) => b.checked).map((b) => b.value);
    const o = { diarize: diarize.checked, formats: chosen };
    if (language.value) o.language = language.value;
    if (model.value) o.model = model.value;
    if (speakers.value) o.num_speakers = Number(speakers.value);
    return o;
  }

  async function submitAll() {
    const links = urls.value.split('\n').map((u) => u.trim()).filter(Boolean);
    if (!picked.length && !links.length) {
      status.replaceChildren(notice('Choose a file or paste a link first.'));
      return;
    }
    submit.disabled = true;
    const o = options();
    const results = [];
    for (const file of picked) {
      const body = new FormData();
      for (const [name, value] of Object.entries(o)) body.append(name, Array.isArray(value) ? value.join(',') : String(value));
      body.append('file', file, file.name);
      results.push(api('/v1/jobs', { method: 'POST', body }).then(() => null, (e) => `${file.name}: ${e.message}`));
    }
    for (const link of links) {
      results.push(sendJson('/v1/jobs', 'POST', Object.assign({ source_url: link }, o)).then(() => null, (e) => `${link}: ${e.message}`));
    }
    status.replaceChildren(notice(`Sending ${results.length}…`, 'muted'));
    const errors = (await Promise.all(results)).filter(Boolean);
    submit.disabled = false;
    if (errors.length) status.replaceChildren(...errors.map((e) => notice(e)));
    else location.hash = '#/jobs';
  }
}

// ---- jobs ------------------------------------------------------------

function stageText(job) {
  if (TERMINAL.includes(job.status)) return job.status === 'failed' ? (job.error || 'failed') : '';
  return job.stage ? `${job.stage} ${Math.round(job.progress * 100)}%` : job.status;
}

function jobActions(job, refresh) {
  const act = (label, run) => h('button', { type: 'button', class: 'quiet', 'aria-label': `${label} ${jobName(job)}`, onclick: async (e) => {
    e.target.disabled = true;
    try { await run(); } catch (err) { alert(err.message); }
    e.target.disabled = false;
    refresh();
  } }, label);
  const running = !TERMINAL.includes(job.status);
  return [
    running ? act('Cancel', () => api(`/v1/jobs/${job.id}/cancel`, { method: 'POST' })) : null,
    job.status === 'failed' || job.status === 'cancelled' ? act('Retry', () => api(`/v1/jobs/${job.id}/retry`, { method: 'POST' })) : null,
    running ? null : act('Delete', async () => {
      if (confirm(`Delete ${jobName(job)} and its transcripts?`)) await api(`/v1/jobs/${job.id}`, { method: 'DELETE' });
    }),
  ];
}

async function jobsPage() {
  const body = h('tbody');
  const rows = new Map();
  const more = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Older jobs');
  let cursor = null;

  const render = (job) => {
    const refresh = async () => {
      try { render(await getJson(`/v1/jobs/${job.id}`)); } catch { rows.get(job.id)?.remove(); rows.delete(job.id); }
    };
    const row = h('tr', { 'data-job': job.id },
      h('td', {}, h('a', { href: `#/jobs/${job.id}` }, jobName(job))),
      h('td', {}, h('span', { class: `status ${job.status}` }, job.status)),
      h('td', {}, TERMINAL.includes(job.status) ? null : h('progress', { max: 1, value: job.progress, 'aria-label': `${jobName(job)} progress` }),
        h('div', { class: 'muted stage' }, stageText(job))),
      h('td', { class: 'created muted' }, new Date(job.created_at).toLocaleString()),
      h('td', { class: 'actions' }, jobActions(job, refresh)));
    const old = rows.get(job.id);
    if (old) old.replaceWith(row); else body.append(row);
    rows.set(job.id, row);
  };

  const load = async () => {
    const page = await getJson(`/v1/jobs?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    page.jobs.forEach(render);
    cursor = page.jobs.length === PAGE ? page.next_cursor : null;
    more.hidden = !cursor;
  };
  more.addEventListener('click', load);

  const table = h('table', { class: 'jobs' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Media'), h('th', {}, 'Status'), h('th', {}, 'Progress'),
      h('th', { class: 'created' }, 'Submitted'), h('th', {}, h('span', { class: 'muted' }, 'Actions')))),
    body);
  const empty = h('p', { class: 'muted', hidden: true }, 'No jobs yet. ', h('a', { href: '#/upload' }, 'Transcribe something'), '.');
  show('Jobs', h('h1', {}, 'Jobs'), empty, table, more);
  await load();
  empty.hidden = rows.size > 0;

  // Live: one stream for every job of the tenant.
  follow('/v1/events', async (event) => {
    const row = rows.get(event.job_id);
    if (!row || TERMINAL.includes(event.kind) || event.kind === 'queued' || event.kind === 'retrying') {
      try {
        const job = await getJson(`/v1/jobs/${event.job_id}`);
        if (!rows.has(job.id)) { render(job); body.prepend(rows.get(job.id)); empty.hidden = true; } else render(job);
      } catch { /* deleted meanwhile */ }
      return;
    }
    row.querySelector('.status').textContent = 'running';
    row.querySelector('.status').className = 'status running';
    const bar = row.querySelector('progress');
    if (bar) bar.value = event.progress;
    row.querySelector('.stage').textContent = event.stage ? `${event.stage} ${Math.round(event.progress * 100)}%` : '';
  });
}

// ---- one job ---------------------------------------------------------

async function jobPage(id, params) {
  const job = await getJson(`/v1/jobs/${encodeURIComponent(id)}`);
  const refresh = () => route();
  const facts = [
    job.language ? `Language: ${job.language}` : null,
    job.duration_ms ? `Duration: ${clock(job.duration_ms)}` : null,
    `Submitted ${new Date(job.created_at).toLocaleString()}`,
  ].filter(Boolean).join(' · ');
  const header = [
    h('h1', {}, jobName(job)),
    h('p', {}, h('span', { class: `status ${job.status}`, id: 'job-status' }, job.status), ' · ', h('span', { class: 'muted' }, facts)),
    h('div', { class: 'downloads' }, jobActions(job, refresh)),
  ];
  if (job.status !== 'completed') return pendingJob(job, header);

  const transcript = await getJson(`/v1/jobs/${job.id}/transcript`);
  const audio = h('audio', { controls: true, preload: 'metadata', src: `/v1/jobs/${job.id}/audio`, id: 'player' });
  const downloads = h('div', { class: 'downloads', 'aria-label': 'Downloads' },
    job.formats_ready.map((f) => h('a', { class: 'button quiet', href: `/v1/jobs/${job.id}/transcript.${f}`, download: `${jobName(job)}.${f}` }, `Download ${f.toUpperCase()}`)));
  const speakers = h('div', { class: 'speakers', 'aria-label': 'Speakers' });
  const segments = h('div', { class: 'transcript', id: 'transcript' });
  show(jobName(job), ...header, downloads, h('div', { class: 'player' }, audio), speakers, segments);

  const words = [];
  const draw = (t) => {
    drawSpeakers(job, t, speakers, draw);
    words.length = 0;
    segments.replaceChildren(...t.segments.map((s) => segmentView(job, t, s, audio, words, draw)));
  };
  draw(transcript);
  syncPlayer(audio, words);
  const at = Number(params.get('t'));
  if (params.has('t') && Number.isFinite(at)) {
    const seek = () => { audio.currentTime = at / 1000; };
    if (audio.readyState >= 1) seek(); else audio.addEventListener('loadedmetadata', seek, { once: true });
    const target = [...segments.children].find((el) => Number(el.dataset.start) <= at && at < Number(el.dataset.end)) || segments.firstChild;
    if (target) { target.classList.add('target'); target.scrollIntoView({ block: 'center' }); }
  }
}

/** A job still running (live progress and text) or one that failed. */
function pendingJob(job, header) {
  const bar = h('progress', { max: 1, value: job.progress, 'aria-label': 'Progress' });
  const stage = h('p', { class: 'muted', id: 'job-stage' }, stageText(job));
  const live = h('p', { class: 'live', 'aria-live': 'polite' });
  const error = job.status === 'failed' ? notice(`Failed: ${job.error || 'no reason recorded'}`) : null;
  show(jobName(job), ...header, error, TERMINAL.includes(job.status) ? null : bar, stage, live);
  if (TERMINAL.includes(job.status)) return;
  follow(`/v1/jobs/${job.id}/events`, (event) => {
    if (event.kind === 'text' && event.text) live.append(`${event.text} `);
    if (event.stage) { bar.value = event.progress; stage.textContent = `${event.stage} ${Math.round(event.progress * 100)}%`; }
    document.getElementById('job-status').textContent = TERMINAL.includes(event.kind) ? event.kind : 'running';
    if (TERMINAL.includes(event.kind)) route();
  });
}

function speakerClass(t, id) {
  const n = t.speakers.findIndex((s) => s.id === id);
  return n < 0 ? '' : `s${n % 6}`;
}

function speakerName(t, id) {
  return t.speakers.find((s) => s.id === id)?.name || id || '';
}

/** Each speaker's name, renamed in place. */
function drawSpeakers(job, t, box, draw) {
  box.replaceChildren(...t.speakers.map((s) => {
    const input = h('input', { value: s.name, 'aria-label': `Name of ${s.id}`, maxlength: 64, class: speakerClass(t, s.id) });
    const status = h('span', { class: 'muted', role: 'status' });
    return h('form', { class: 'speaker', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await sendJson(`/v1/jobs/${job.id}/speakers`, 'PATCH', { [s.id]: input.value.trim() });
        draw(await getJson(`/v1/jobs/${job.id}/transcript`));
      } catch (err) { status.textContent = err.message; }
    } }, input, h('button', { type: 'submit', class: 'quiet' }, 'Rename'), status);
  }));
}

/** One segment: who, when (a button that seeks), its words, and an editor. */
function segmentView(job, t, s, audio, words, draw) {
  const seek = (ms) => () => { audio.currentTime = ms / 1000; };
  const text = h('p', { class: 'text', lang: t.language || undefined });
  const timed = s.words.length ? s.words : [{ start_ms: s.start_ms, end_ms: s.end_ms, text: s.text }];
  timed.forEach((w, i) => {
    const span = h('span', { class: 'w', 'data-start': w.start_ms, 'data-end': w.end_ms, onclick: seek(w.start_ms) }, w.text);
    words.push({ start: w.start_ms, end: w.end_ms, el: span });
    text.append(span, i + 1 < timed.length ? ' ' : '');
  });
  const edit = h('button', { type: 'button', class: 'quiet edit', 'aria-label': `Correct the text at ${clock(s.start_ms)}` }, 'Correct');
  const cell = h('div', {}, text,
    s.original_text ? h('div', { class: 'edited', title: `Original: ${s.original_text}` }, 'corrected') : null, edit);
  edit.addEventListener('click', () => {
    const area = h('textarea', { rows: 2, 'aria-label': `Text at ${clock(s.start_ms)}` });
    area.value = s.text;
    const status = h('span', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'editor', onsubmit: async (e) => {
      e.preventDefault();
      try { draw(await sendJson(`/v1/jobs/${job.id}/segments/${s.index}`, 'PATCH', { text: area.value })); } catch (err) { status.textContent = err.message; }
    } }, area, h('button', { type: 'submit' }, 'Save'), ' ',
      h('button', { type: 'button', class: 'quiet', onclick: () => form.replaceWith(text, edit) }, 'Cancel'), status);
    text.replaceWith(form);
    edit.remove();
    area.focus();
  });
  return h('div', { class: 'segment', 'data-start': s.start_ms, 'data-end': s.end_ms, 'data-index': s.index },
    h('div', {},
      h('div', { class: `who ${speakerClass(t, s.speaker)}` }, speakerName(t, s.speaker)),
      h('button', { type: 'button', class: 'quiet when', onclick: seek(s.start_ms), 'aria-label': `Play from ${clock(s.start_ms)}` }, clock(s.start_ms))),
    cell);
}

/** Highlights the word being spoken while the audio plays. */
function syncPlayer(audio, words) {
  let lit = null;
  let frame = 0;
  const tick = () => {
    const ms = audio.currentTime * 1000;
    let lo = 0, hi = words.length - 1, found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (words[mid].end <= ms) lo = mid + 1;
      else if (words[mid].start > ms) hi = mid - 1;
      else { found = words[mid]; break; }
    }
    if (found?.el !== lit?.el) {
      lit?.el.classList.remove('now');
      found?.el.classList.add('now');
      lit = found;
    }
    if (!audio.paused) frame = requestAnimationFrame(tick);
  };
  audio.addEventListener('play', () => { frame = requestAnimationFrame(tick); });
  audio.addEventListener('seeked', tick);
  audio.addEventListener('timeupdate', tick);
  onLeave(() => { cancelAnimationFrame(frame); audio.pause(); });
}

// ---- search ----------------------------------------------------------

/** A snippet with `<mark>` around matches, built as text (never parsed as HTML). */
function snippet(text) {
  const p = h('p', { class: 'snippet' });
  text.split(/(<mark>.*?<\/mark>)/).forEach((part) => {
    const m = part.match(/^<mark>(.*)<\/mark>$/);
    p.append(m ? h('mark', {}, m[1]) : part);
  });
  return p;
}

async function searchPage(params) {
  const q = params.get('q') || '';
  const input = h('input', { type: 'search', id: 'q', name: 'q', value: q, 'aria-label': 'Words to find', placeholder: 'Words to find' });
  const results = h('div', { 'aria-live': 'polite' });
  const form = h('form', { role: 'search', onsubmit: (e) => { e.preventDefault(); location.hash = `#/search?q=${encodeURIComponent(input.value.trim())}`; } },
    input, ' ', h('button', { type: 'submit' }, 'Search'));
  show(q ? `Search: ${q}` : 'Search', h('h1', {}, 'Search transcripts'), form, results);
  if (!q) { input.focus(); return; }
  const page = await getJson(`/v1/search?q=${encodeURIComponent(q)}&limit=50`);
  if (!page.hits.length) { results.replaceChildren(h('p', { class: 'muted' }, `Nothing says “${q}”.`)); return; }
  const names = new Map();
  await Promise.all([...new Set(page.hits.map((hit) => hit.job_id))].map(async (id) => {
    try { names.set(id, jobName(await getJson(`/v1/jobs/${id}`))); } catch { names.set(id, id); }
  }));
  results.replaceChildren(h('ul', { class: 'hits' }, page.hits.map((hit) => h('li', {},
    h('a', { href: `#/jobs/${hit.job_id}?t=${hit.start_ms}` }, `${names.get(hit.job_id)} at ${clock(hit.start_ms)}`),
    hit.speaker_name || hit.speaker ? h('span', { class: 'muted' }, ` · ${hit.speaker_name || hit.speaker}`) : null,
    snippet(hit.snippet)))));
}

document.addEventListener('DOMContentLoaded', start);
