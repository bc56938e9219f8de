import { describe, expect, it } from 'vitest';
import type { KernelCheckReport } from '../../web/kernel-check/run.ts';
import { artifactPath, chromiumMissing, collectPageErrors, useBrowserSite } from './chromium.ts';

// The kernel-check page (web/kernel-check.html) in headless Chromium: the same ops and CPU
// references as test/kernels, compiled by Chrome's WGSL compiler and run on its WebGPU adapter
// (SwiftShader without a GPU). Each case's tolerance is the kernel's own, stated in web/kernel-check/.

const title = chromiumMissing ? `kernels in Chromium (skipped: ${chromiumMissing})` : 'kernels in Chromium';

describe.skipIf(chromiumMissing !== null)(title, () => {
  const site = useBrowserSite();

  async function runChecks(query: string, screenshot: string): Promise<KernelCheckReport> {
    const { browser, url } = site();
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto(`${url}kernel-check.html?${query}`);
      await page.waitForFunction(() => window.__results?.done === true, undefined, { timeout: 100_000, polling: 250 });
      await page.screenshot({ path: artifactPath(screenshot), fullPage: true });
      const report = (await page.evaluate(() => window.__results))!;
      expect(report.error, `page error; console: ${errors.join(' | ')}`).toBeUndefined();
      return report;
    } finally {
      await page.close();
    }
  }

  function expectAllPassed(report: KernelCheckReport): void {
    const failures = report.cases.filter((c) => !c.pass).map((c) => `${c.family} ${c.name}: ${c.error ?? `max error ${c.maxErr} tolerance units`}`);
    expect(failures).toEqual([]);
    expect(report.families.filter((f) => !report.cases.some((c) => c.family === f)), 'families without cases').toEqual([]);
    expect(report.passed).toBe(report.cases.length);
  }

  it('every case passes with the adapter\'s features', async () => {
    const report = await runChecks('seed=1', 'kernel-check.png');
    expect(report.adapter?.name).toBeTruthy();
    expectAllPassed(report);
  });

  it('every case passes on the paths without subgroups and f16', async () => {
    const report = await runChecks('seed=2&disable=subgroups,f16', 'kernel-check-fallback.png');
    expect(report.features).toMatchObject({ subgroups: false, f16: false });
    expectAllPassed(report);
  });

  it('reports an unknown family instead of passing vacuously', async () => {
    const { browser, url } = site();
    const page = await browser.newPage();
    await page.goto(`${url}kernel-check.html?families=nosuchfamily`);
    await page.waitForFunction(() => window.__results?.done === true, undefined, { timeout: 60_000 });
    const report = (await page.evaluate(() => window.__results))!;
    expect(report.error).toMatch(/unknown kernel families: nosuchfamily/);
    expect(report.cases).toEqual([]);
    await page.close();
  });
});
