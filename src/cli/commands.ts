// The subcommand table: one line per command, pointing at the module that implements it.
import { registerCommand } from './main.ts';

registerCommand('gpu', 'show the WebGPU adapter, its features and limits', () => import('./gpu-info.ts'));
