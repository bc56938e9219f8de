/**
 * The kernel-check page: runs the kernel families' checks (web/kernel-check/) on this browser's
 * WebGPU and reports every case, as a table and as JSON in `window.__results` (read by
 * test/browser/kernels.test.ts). URL options: `families` (comma list), `seed`, `disable`
 * (subgroups, f16, timestamps: to exercise the kernels' fallback paths).
 */
import { startEngine } from './engine.ts';
import { FAMILIES } from './kernel-check/families.ts';
import { kernelChecks, runChecks, type CaseResult, type KernelCheckReport } from './kernel-check/run.ts';

declare global {
  interface Window {
    __results?: KernelCheckReport;
  }
}

const query = new URLSearchParams(location.search);
const list = (key: string) => (query.get(key) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const disableNames = list('disable');
const report: KernelCheckReport = {
  done: false,
  seed: Number(query.get('seed') ?? 1),
  families: list('families'),
  adapter: null,
  features: null,
  cases: [],
  passed: 0,
  failed: 0,
};

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const rows = $<HTMLTableSectionElement>('#cases tbody');

function publish(): void {
  window.__results = report;
  $('#report').textContent = JSON.stringify(report, null, 2);
  $('#summary').textContent = report.error
    ? `Not run: ${report.error}`
    : `${report.done ? 'Done' : 'Running'}: ${report.passed} passed, ${report.failed} failed`;
  $('#summary').dataset.state = report.error || report.failed ? 'error' : report.done ? 'ok' : '';
}

function addRow(r: CaseResult): void {
  const tr = rows.insertRow();
  tr.dataset.state = r.pass ? 'ok' : 'error';
  for (const text of [r.family, r.name, r.pass ? 'pass' : `FAIL${r.error ? `: ${r.error}` : ''}`, r.maxErr === null ? '–' : r.maxErr.toPrecision(3), String(r.ms)]) {
    tr.insertCell().textContent = text;
  }
}

async function main(): Promise<void> {
  publish();
  const known = ['subgroups', 'f16', 'timestamps'];
  const badDisable = disableNames.filter((n) => !known.includes(n));
  if (badDisable.length) throw new Error(`unknown ?disable= feature(s): ${badDisable.join(', ')} (known: ${known.join(', ')})`);
  if (!Number.isInteger(report.seed) || report.seed < 0) throw new Error(`?seed= must be a non-negative integer, got ${query.get('seed')}`);
  const checks = kernelChecks(report.families, report.seed);
  if (!report.families.length) report.families = Object.keys(FAMILIES);
  const ctx = await startEngine($('#gpu-status'), {
    disable: Object.fromEntries(disableNames.map((n) => [n, true])),
    onLost: (message) => {
      report.error = message;
      report.done = true;
      publish();
    },
  });
  report.adapter = ctx.adapter;
  report.features = ctx.features;
  try {
    await runChecks(ctx, checks, (r) => {
      report.cases.push(r);
      if (r.pass) report.passed++;
      else report.failed++;
      addRow(r);
      publish();
    });
  } finally {
    ctx.destroy();
  }
}

main()
  .catch((e: Error) => {
    report.error = e.message;
  })
  .finally(() => {
    report.done = true;
    publish();
  });
