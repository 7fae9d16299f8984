// Opens a study's report/index.html in headless Chromium (Debian's `chromium`, or
// THTL_CHROMIUM) through puppeteer-core, from disk, with every network request refused and
// recorded. Returns what the page shows and what went wrong; saves a screenshot.
//
//   node scripts/report-browser.mjs STUDY/report/index.html [--screenshot FILE]
//
// test/e2e/html-report.test.ts uses the same function.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export function chromiumPath() {
  for (const p of [process.env.THTL_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) if (p && existsSync(p)) return p;
  return null;
}

/**
 * @param {string} html path of index.html
 * @param {{ screenshot?: string, sortTable?: string, sortColumn?: number }} o
 */
export async function inspectReport(html, o = {}) {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no Chromium found (install Debian\'s chromium, or set THTL_CHROMIUM)');
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const consoleErrors = [];
    const pageErrors = [];
    const network = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      const url = r.url();
      if (url.startsWith('file:') || url.startsWith('data:')) r.continue();
      else {
        network.push(url);
        r.abort();
      }
    });
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    const tables = await page.$$eval('table.sortable', (ts) =>
      Object.fromEntries(ts.map((t) => [t.id, { head: [...t.tHead.rows[0].cells].map((c) => c.textContent), rows: [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent)) }])),
    );
    const images = await page.$$eval('img', (is) => is.map((i) => ({ alt: i.alt, loaded: i.complete && i.naturalWidth > 0 })));
    let sorted = null;
    if (o.sortTable) {
      const th = `#${o.sortTable} th[data-col="${o.sortColumn ?? 0}"]`;
      const column = () => page.$$eval(`#${o.sortTable} tbody tr`, (rows, col) => rows.map((r) => r.cells[col].dataset.sort ?? r.cells[col].textContent), o.sortColumn ?? 0);
      await page.click(th);
      const ascending = await column();
      const ariaAsc = await page.$eval(th, (e) => e.getAttribute('aria-sort'));
      await page.click(th);
      const descending = await column();
      const ariaDesc = await page.$eval(th, (e) => e.getAttribute('aria-sort'));
      sorted = { ascending, descending, ariaAsc, ariaDesc };
    }
    if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: false });
    return { consoleErrors, pageErrors, network, tables, images, sorted, title: await page.title() };
  } finally {
    await browser.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const html = process.argv[2];
  if (!html) {
    process.stderr.write('usage: node scripts/report-browser.mjs STUDY/report/index.html [--screenshot FILE]\n');
    process.exit(2);
  }
  const at = process.argv.indexOf('--screenshot');
  const r = await inspectReport(html, at > 0 ? { screenshot: process.argv[at + 1] } : {});
  const broken = r.images.filter((i) => !i.loaded);
  process.stdout.write(
    `${r.title}: ${Object.keys(r.tables).length} tables (${Object.entries(r.tables).map(([k, t]) => `${k} ${t.rows.length} rows`).join(', ')}), ` +
      `${r.images.length} images (${broken.length} not loaded), ${r.consoleErrors.length + r.pageErrors.length} console/page errors, ${r.network.length} network requests\n`,
  );
  for (const e of [...r.consoleErrors, ...r.pageErrors, ...r.network.map((u) => `network: ${u}`)]) process.stdout.write(`  ${e}\n`);
  if (at > 0) process.stdout.write(`screenshot: ${process.argv[at + 1]}\n`);
  if (broken.length + r.consoleErrors.length + r.pageErrors.length + r.network.length > 0) process.exitCode = 1;
}
