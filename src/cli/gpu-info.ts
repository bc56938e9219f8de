import { createNodeContext } from '../node/gpu.ts';
import { parseArgs, usage } from './args.ts';

const SPEC = { json: { type: 'boolean' as const, description: 'print JSON' }, help: { type: 'boolean' as const, description: 'show this help' } };

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, SPEC);
  if (options.help) {
    console.log(usage('gpu', '', SPEC));
    return 0;
  }
  const ctx = await createNodeContext();
  try {
    const info = {
      adapter: ctx.adapter.name,
      features: ctx.features,
      limits: {
        maxBufferSize: ctx.limits.maxBufferSize,
        maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: ctx.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: ctx.limits.maxComputeInvocationsPerWorkgroup,
      },
    };
    console.log(options.json ? JSON.stringify(info, null, 2) : Object.entries(info).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'));
    return 0;
  } finally {
    ctx.destroy();
  }
}
