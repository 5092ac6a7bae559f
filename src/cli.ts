#!/usr/bin/env node
// The entry point. `poof --version` answers before anything else is loaded (the argument parser
// is most of a start-up); everything else goes to the program.
import { packageVersion } from './assets.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // `poof --version | true`: a closed pipe only ends the output.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${packageVersion()}\n`);
} else {
  const { main } = await import('./program.js');
  process.exitCode = await main(process.argv);
}
