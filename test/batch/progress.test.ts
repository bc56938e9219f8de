import { describe, expect, it } from 'vitest';
import { Progress, formatDuration, formatRate } from '../../src/cli/progress.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 60, write: (s: string) => writes.push(s) } };
}

describe('progress reporter', () => {
  it('prints periodic complete lines when not a TTY, with rate and ETA', () => {
    let now = 0;
    const { writes, stream } = fakeStream(false);
    const p = new Progress({ total: 100, label: 'batch', stream, plainEveryMs: 1000, now: () => now });
    expect(writes).toEqual(['batch  0/100 (0.0%)  0.00/s  ETA ?\n']);
    for (let i = 0; i < 20; i++) {
      now += 100; // 10 items per second
      p.tick(1, { failed: 2 });
    }
    // One line per second of ticking, not one per tick.
    expect(writes).toHaveLength(3);
    expect(writes[2]).toBe('batch  20/100 (20.0%)  10.0/s  ETA 8s  failed=2\n');
    p.finish();
    expect(writes[3]).toBe('batch  20/100 (20.0%)  10.0/s  ETA 8s  failed=2  elapsed 2s\n');
    p.tick(1);
    expect(writes).toHaveLength(4);
  });

  it('redraws one line in place on a TTY, throttled and cut to the terminal width', () => {
    let now = 0;
    const { writes, stream } = fakeStream(true);
    const p = new Progress({ total: 1000, label: 'batch', stream, redrawMs: 100, now: () => now });
    expect(writes).toEqual([]);
    for (let i = 0; i < 50; i++) {
      now += 10;
      p.tick(2, { phase: 'a very long extra field value that will not fit' });
    }
    expect(writes.length).toBe(5);
    for (const w of writes) {
      expect(w.startsWith('\r')).toBe(true);
      expect(w.endsWith('\x1b[K')).toBe(true);
      expect(w.length - '\r\x1b[K'.length).toBeLessThan(60);
    }
    p.finish();
    expect(writes.at(-1)!.endsWith('\x1b[K\n')).toBe(true);
  });

  it('measures the rate over the recent window, so the ETA follows a change of speed', () => {
    let now = 0;
    const p = new Progress({ total: 20_000, label: 'x', stream: fakeStream(true).stream, rateWindowMs: 5000, now: () => now });
    for (let i = 0; i < 100; i++) {
      now += 100;
      p.tick(100); // 1000/s for 10 s
    }
    expect(p.rate()).toBeCloseTo(1000, 0);
    for (let i = 0; i < 100; i++) {
      now += 100;
      p.tick(1); // then 10/s
    }
    expect(p.rate()).toBeCloseTo(10, 0);
    expect(p.eta()).toBeCloseTo((20_000 - 10_100) / 10, -1);
  });

  it('works without a total', () => {
    let now = 0;
    const { writes, stream } = fakeStream(false);
    const p = new Progress({ total: null, label: 'train', stream, plainEveryMs: 0, now: () => now });
    now += 2000;
    p.tick(4, { loss: 0.5 });
    expect(writes.at(-1)).toBe('train  4  2.00/s  loss=0.5\n');
    expect(p.eta()).toBeNull();
  });

  it('formats durations and rates', () => {
    expect([formatDuration(0), formatDuration(59.4), formatDuration(187), formatDuration(7500)]).toEqual(['0s', '59s', '3m07s', '2h05m']);
    expect([formatRate(0.1234), formatRate(12.345), formatRate(1234.5)]).toEqual(['0.12', '12.3', '1235']);
  });
});
