/**
 * A small, strict argument parser shared by every subcommand: `--name value`, `--name=value`,
 * boolean flags, repeatable options, and positionals. Unknown options are errors, so a typo never
 * silently changes what a long job does.
 */
export interface OptionSpec {
  /** 'string' takes a value, 'boolean' does not, 'list' takes a value and may repeat. */
  type: 'string' | 'boolean' | 'list';
  description: string;
  default?: string | boolean;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | string[] | undefined>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  for (const [k, s] of Object.entries(spec)) options[k] = s.type === 'list' ? [] : s.default;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (s.type === 'list') (options[name] as string[]).push(value);
    else options[name] = value;
  }
  return { positionals, options };
}

export function usage(command: string, synopsis: string, spec: Record<string, OptionSpec>): string {
  const lines = Object.entries(spec).map(([k, s]) => `  --${k}${s.type === 'boolean' ? '' : ' <value>'}${s.type === 'list' ? ' (repeatable)' : ''}\n      ${s.description}`);
  return `usage: atelier ${command} ${synopsis}\n${lines.join('\n')}`;
}

/** The --grounding option: prompted (the default), strict or off. */
export function groundingOption(v: unknown): 'prompted' | 'strict' | 'off' {
  if (v === undefined) return 'prompted';
  if (v === 'prompted' || v === 'strict' || v === 'off') return v;
  throw new UsageError(`--grounding must be prompted, strict or off, got '${String(v)}'`);
}
