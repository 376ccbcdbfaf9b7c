// Open a notebook in a running JupyterLab, run all cells, wait for the shimmy-lab
// Dashboard widget to render, save a screenshot, print what was found as JSON.
// usage: node lab_widget.mjs URL SCREENSHOT
import { chromium } from "playwright-core";

const [url, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"],
});
const result = { ok: false };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
  await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.shell.currentWidget, null,
                             { timeout: 60000 });
  // wait for the kernel, then run every cell
  await page.waitForFunction(() => {
    const w = window.jupyterapp.shell.currentWidget;
    return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel &&
           w.sessionContext.session.kernel.status === "idle";
  }, null, { timeout: 60000 });
  await page.evaluate(() => window.jupyterapp.commands.execute("notebook:run-all-cells"));
  await page.waitForSelector(".jp-OutputArea-output .widget-tab, .jp-OutputArea-output .lm-TabBar",
                             { timeout: 120000 });
  await page.waitForSelector(".jp-OutputArea-output .js-plotly-plot, .jp-OutputArea-output .plotly",
                             { timeout: 60000 }).catch(() => null);
  result.tabs = await page.$$eval(".jp-OutputArea-output .lm-TabBar-tabLabel", els => els.map(e => e.textContent));
  result.plots = await page.$$eval(".jp-OutputArea-output .main-svg", els => els.length);
  result.errors = await page.$$eval(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                    els => els.map(e => e.textContent.slice(0, 300)));
  await page.screenshot({ path: shot, fullPage: false });
  result.ok = true;
} catch (err) {
  result.error = String(err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
