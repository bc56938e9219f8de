import { UsageError } from './args.ts';

/**
 * The `atelier` command's subcommands. Each lives in its own module under src/cli/ and exports
 * `run(argv): Promise<number>` (the exit code); modules load lazily so `atelier data check` never
 * starts a GPU.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {};

export function registerCommand(name: string, summary: string, load: (typeof COMMANDS)[string]['load']): void {
  COMMANDS[name] = { summary, load };
}

function help(): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(12)} ${c.summary}`);
  return `usage: atelier <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun 'atelier <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  await import('./commands.ts');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`atelier: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  try {
    return await (await cmd.load()).run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`atelier ${name}: ${e.message}`);
      return 2;
    }
    if ((e as { kind?: string }).kind === 'no-adapter') {
      // A fresh machine: set the adapter up as `npm run setup:gpu` does, then run this command again.
      const setup = await import('../node/setup.ts');
      if (setup.canSetUpAdapter(e)) {
        const code = setup.setUpAdapterAndRerun(argv);
        if (code !== null) return code;
      }
    }
    console.error(`atelier ${name}: ${(e as Error).message}`);
    if (process.env.ATELIER_DEBUG) console.error(e);
    return 1;
  }
}
