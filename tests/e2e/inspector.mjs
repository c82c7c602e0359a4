// Open a notebook in a running JupyterLab, run all cells, wait for the rendered plotly widgets, screenshot them.
// usage: node inspector.mjs URL OUT_DIR      (CHROMIUM: path to Debian's chromium, default /usr/bin/chromium)
import { chromium } from 'playwright-core';

const [url, outDir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const fail = async (page, msg) => { await page.screenshot({ path: `${outDir}/failure.png`, fullPage: true }); console.error(msg); await browser.close(); process.exit(1); };
const page = await browser.newPage({ viewport: { width: 1400, height: 2600 } });
await page.goto(url);
await page.waitForSelector('.jp-Notebook', { timeout: 60000 });
await page.waitForSelector('.jp-Notebook-ExecutionIndicator[data-status="idle"], .jp-Toolbar-kernelStatus', { timeout: 60000 }).catch(() => {});
await page.waitForTimeout(3000);                       // let the kernel settle
await page.click('.jp-Notification-Toast button:has-text("No")', { timeout: 3000 }).catch(() => {});  // the news prompt
await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
try {
  await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot').length >= 2, null, { timeout: 180000 });
} catch (e) { await fail(page, 'no rendered plotly widget appeared'); }
await page.waitForTimeout(3000);
const errors = await page.$$eval('.jp-OutputArea-output', els => els.map(e => e.innerText)
  .filter(t => /Traceback|Error displaying widget|Failed to load model class/.test(t)));
if (errors.length) await fail(page, 'errors in the outputs:\n' + errors.join('\n---\n'));
const widgets = await page.$$('.jp-OutputArea-output .widget-vbox');
if (widgets.length < 2) await fail(page, `expected 2 widget areas, found ${widgets.length}`);
for (const w of widgets) { const b = await w.boundingBox(); if (!b || b.height < 100) await fail(page, 'a widget area is empty'); }
await widgets[0].screenshot({ path: `${outDir}/inspector.png` });
await widgets[1].screenshot({ path: `${outDir}/usefulness.png` });
console.log('ok: 2 widget areas rendered, plotly plots:', await page.$$eval('.js-plotly-plot', e => e.length));
await browser.close();
