// Drives steno's web app in Debian's chromium against a running system, as
// a user would: sign in, upload, watch the job finish, read it, seek by
// clicking a word, rename the speaker, correct a word, download, search,
// and check that another tenant sees none of it. Every page is saved as a
// screenshot. Run by integration-tests/tests/system/web_app.rs with:
//   STENO_URL, STENO_KEY, STENO_OTHER_KEY, STENO_MEDIA (a clip that says
//   "milk"), STENO_ARTIFACTS (a folder for screenshots and downloads).
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('STENO_URL');
const artifacts = env('STENO_ARTIFACTS');
const media = env('STENO_MEDIA');
mkdirSync(artifacts, { recursive: true });

const NAME = 'José Núñez';
const WAIT = { timeout: 240_000 };
const check = (ok, message) => { if (!ok) throw new Error(message); };
const shot = async (page, name) => {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  console.log(`screenshot ${name}.png`);
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});

async function signIn(context, key) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  await page.goto(base);
  await page.waitForSelector('#key');
  await page.fill('#key', key);
  await Promise.all([page.waitForURL(`${base}/#/**`), page.click('#signin')]);
  return page;
}

let page;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  page = await context.newPage();

  // A wrong key is refused on the sign-in page.
  await page.goto(base);
  await page.waitForSelector('#key');
  await shot(page, '01-sign-in');
  await page.fill('#key', 'steno_000000000000_' + 'x'.repeat(43));
  await page.click('#signin');
  await page.waitForSelector('text=That key was not accepted');
  await page.close();

  // Signed in, a new tenant lands on the upload page.
  page = await signIn(context, env('STENO_KEY'));
  await page.waitForSelector('#files');
  check(page.url().endsWith('#/upload'), `a new tenant should land on the upload page, not ${page.url()}`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'steno_session');
  check(session && session.httpOnly && session.sameSite === 'Strict', `session cookie: ${JSON.stringify(session)}`);
  check(await page.evaluate(() => !document.cookie.includes('steno_session')), 'the script must not see the key');
  await page.setInputFiles('#files', media);
  await shot(page, '02-upload');

  // The job list follows the job to completed without a reload.
  await page.click('#transcribe');
  await page.waitForSelector('tr[data-job]');
  await page.evaluate(() => { window.stenoNotReloaded = true; });
  await shot(page, '03-jobs-running');
  await page.waitForSelector('tr[data-job] .status.completed', WAIT);
  check(await page.evaluate(() => window.stenoNotReloaded === true), 'the page reloaded');
  const jobId = await page.getAttribute('tr[data-job]', 'data-job');
  await shot(page, '04-jobs-completed');

  // The job page: the spoken words, a player, a click on a word seeks.
  await page.click(`tr[data-job="${jobId}"] a`);
  await page.waitForSelector('#transcript .w');
  const text = await page.textContent('#transcript');
  check(/milk/i.test(text), `the transcript should say milk: ${text}`);
  await page.waitForFunction(() => document.getElementById('player').readyState >= 1, null, WAIT);
  const milk = page.locator('#transcript .w', { hasText: /milk/i }).first();
  const start = Number(await milk.getAttribute('data-start'));
  check(start > 0, `milk starts at ${start} ms`);
  await milk.click();
  await page.waitForFunction((ms) => Math.abs(document.getElementById('player').currentTime * 1000 - ms) < 30, start);
  await page.waitForFunction(() => document.querySelector('.w.now')?.textContent.toLowerCase().includes('milk'));
  await shot(page, '05-job');

  // Rename the speaker and correct a word; the SRT has both.
  await page.fill('input[aria-label="Name of S1"]', NAME);
  await page.click('form.speaker button[type=submit]');
  await page.waitForFunction((name) => document.querySelector('.segment .who')?.textContent === name, NAME);
  const index = await page.locator('.segment', { hasText: /milk/i }).first().getAttribute('data-index');
  const segment = page.locator(`.segment[data-index="${index}"]`);
  await segment.locator('button.edit').click();
  const area = segment.locator('textarea');
  await area.fill((await area.inputValue()).replace(/milk/i, 'cheese'));
  await segment.locator('button[type=submit]').click();
  await page.waitForSelector('.segment .w:text-is("cheese")');
  check((await page.textContent('.segment .edited')) === 'corrected', 'the corrected segment is marked');
  await shot(page, '06-job-corrected');
  const download = async (format) => {
    const [file] = await Promise.all([page.waitForEvent('download'), page.click(`text=Download ${format.toUpperCase()}`)]);
    const path = join(artifacts, `transcript.${format}`);
    await file.saveAs(path);
    return path;
  };
  const srt = readFileSync(await download('srt'), 'utf8');
  check(srt.includes(NAME) && /cheese/.test(srt) && !/milk/i.test(srt), `the SRT should have the name and the correction:\n${srt}`);
  await download('pdf');

  // Search finds it and links to the moment.
  await page.click('nav a[href="#/search"]');
  await page.fill('#q', 'cheese');
  await page.press('#q', 'Enter');
  await page.waitForSelector('.hits li a');
  await shot(page, '07-search');
  const hit = await page.getAttribute('.hits li a', 'href');
  check(hit.startsWith(`#/jobs/${jobId}?t=`), `the hit should link to the job's moment: ${hit}`);
  await page.click('.hits li a');
  await page.waitForSelector('.segment.target');

  // Dark theme, and a phone's width.
  await page.click('#theme');
  await shot(page, '08-job-dark');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, '09-job-phone');

  // Another tenant sees none of it.
  const other = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const theirs = await signIn(other, env('STENO_OTHER_KEY'));
  await theirs.goto(`${base}/#/jobs`);
  await theirs.waitForSelector('text=No jobs yet');
  check((await theirs.locator('tr[data-job]').count()) === 0, 'the other tenant lists no jobs');
  await theirs.goto(`${base}/#/jobs/${jobId}`);
  await theirs.waitForSelector('[role=alert]');
  check(/does not exist/.test(await theirs.textContent('[role=alert]')), 'the other tenant cannot open the job');
  await theirs.goto(`${base}/#/search?q=cheese`);
  await theirs.waitForSelector('text=Nothing says');
  const audio = await theirs.evaluate(async (id) => (await fetch(`/v1/jobs/${id}/audio`)).status, jobId);
  check(audio === 404, `the other tenant's audio request got ${audio}`);
  await shot(theirs, '10-other-tenant');

  // A request the cookie signs without the app's header is refused.
  const bare = await page.evaluate(async (id) => (await fetch(`/v1/jobs/${id}`, { method: 'DELETE' })).status, jobId);
  check(bare === 403, `a DELETE without X-Steno-CSRF got ${bare}`);

  // Signing out ends the session.
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.click('#signout button');
  await page.waitForSelector('#key');
  const after = await page.evaluate(async () => (await fetch('/v1/session')).status);
  check(after === 401, `after signing out /v1/session answered ${after}`);
  console.log(`job ${jobId}`);
  await browser.close();
} catch (e) {
  if (page) await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
  console.error(e.stack || String(e));
  await browser.close();
  process.exit(1);
}
