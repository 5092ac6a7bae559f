// The program: argv -> command -> exit code (cli.ts loads it). It imports nothing heavy, so
// `poof --help` starts fast; each command module is loaded only when it runs.
import { Command, CommanderError, type CommandUnknownOpts, type OptionValues } from '@commander-js/extra-typings';
import { packageVersion } from './assets.js';
import type { Context } from './context.js';
import { ExitCode, PoofError } from './errors.js';
import {
  backupSpec,
  syncSpec,
  watchSpec,
  cconfigSpec,
  configSpec,
  cryptoggleSpec,
  downloadSpec,
  examples,
  keyExportSpec,
  keyImportSpec,
  pathsSpec,
  scheduleInstallSpec,
  scheduleRemoveSpec,
  scheduleStatusSpec,
  statusSpec,
  historySpec,
  versionsSpec,
  restoreSpec,
  pruneSpec,
  checkSpec,
  uploadSpec,
  verifySpec,
} from './commands/specs.js';

/** A command's action: the options it declared (typed in commands/specs.ts), its arguments. */
type Action<Options> = (ctx: Context, options: Options, args: string[]) => Promise<number>;

/** The options every command also gets from `poof` itself. */
interface GlobalOptions {
  confdir?: string;
  color?: boolean;
}

let exitCode: number = ExitCode.ok;

/**
 * A closed stdout or stderr (`poof ... | head -1`) only ends the output: a run goes on, records
 * and unlocks. Node reports the closed pipe as an asynchronous EPIPE error on the stream.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}

/**
 * NO_COLOR (https://no-color.org) and --no-color turn colours off everywhere: chalk reads
 * FORCE_COLOR, listr2 reads NO_COLOR, both when first loaded, which is after this.
 */
function applyColourChoice(colour: unknown): void {
  if (colour === false || (process.env.NO_COLOR ?? '') !== '') {
    process.env.NO_COLOR = '1';
    process.env.FORCE_COLOR = '0';
  }
}

function run<Options>(load: () => Promise<Action<Options>>) {
  return async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    // commander built these from the declarations the command's Options type is derived from.
    const options = command.optsWithGlobals() as Options & GlobalOptions;
    applyColourChoice(options.color);
    const { createContext } = await import('./context.js');
    const ctx = await createContext(options.confdir);
    const action = await load();
    exitCode = await action(ctx, options, command.args);
  };
}

/**
 * Give a declared command its action and hang it under its parent, with the parent's settings
 * (exit codes instead of process.exit, the one-line error format, suggestions).
 */
function attach<Options extends OptionValues>(
  parent: CommandUnknownOpts,
  child: Command<[], Options> | Command<[string], Options> | Command<[string[]], Options>,
  load: () => Promise<Action<Options>>,
): void {
  child.copyInheritedSettings(parent);
  (child as CommandUnknownOpts).action(run(load));
  parent.addCommand(child as CommandUnknownOpts);
}

export function buildProgram() {
  const program = new Command('poof')
    .description('Keep chosen directories safely copied to any cloud or server through rclone.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--confdir <dir>', 'config directory (default: the platform config dir, or $POOF_CONFIG_DIR)')
    .option('--no-color', 'no colours (also honours NO_COLOR)')
    .addHelpText(
      'after',
      `${examples([
        'poof config --map ~/Documents=Documents   # choose what to copy',
        'poof cconfig --provider local             # a local directory as the "cloud"',
        'poof verify                               # check everything',
        'poof backup                               # copy',
      ])}\nExit codes: 0 ok, 1 a run failed, 2 usage error, 3 config missing or invalid,\n4 verify found a problem, 5 locked by another run, 6 rclone missing or too old,\n7 partly done (files that kept changing), 129/130/143 interrupted.\n`,
    )
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`poof: ${text.replace(/^error: /, '').trimEnd()}\n`),
    });

  attach(program, configSpec(), async () => (await import('./commands/config.js')).configCommand);

  attach(program, cconfigSpec(), async () => (await import('./commands/cconfig.js')).cconfigCommand);

  attach(program, verifySpec(), async () => (await import('./commands/verify.js')).verifyCommand);

  attach(program, pathsSpec(), async () => (await import('./commands/paths.js')).pathsCommand);

  attach(program, backupSpec(), async () => (await import('./commands/backup.js')).backupCommand);
  attach(program, syncSpec(), async () => (await import('./commands/sync.js')).syncCommand);
  attach(program, watchSpec(), async () => (await import('./commands/watch.js')).watchCommand);

  attach(program, uploadSpec(), async () => (await import('./commands/upload.js')).uploadCommand);

  attach(program, downloadSpec(), async () => (await import('./commands/download.js')).downloadCommand);

  attach(program, cryptoggleSpec(), async () => (await import('./commands/cryptoggle.js')).cryptoggleCommand);

  const key = program
    .command('key')
    .description('the recovery kit: export or import the keys of the crypt remote')
    .addHelpText('after', examples(['poof key export ~/poof-recovery-kit.txt   # keep it offline', 'poof key import ~/poof-recovery-kit.txt   # on a new laptop']));
  attach(key, keyExportSpec(), async () => (await import('./commands/key.js')).keyExportCommand);
  attach(key, keyImportSpec(), async () => (await import('./commands/key.js')).keyImportCommand);

  const schedule = program
    .command('schedule')
    .description('run poof unattended: launchd (macOS), cron or a systemd user timer')
    .addHelpText('after', examples(['poof schedule install --every 6h', 'poof schedule status', 'poof schedule remove']));
  attach(schedule, scheduleInstallSpec(), async () => (await import('./commands/schedule.js')).scheduleInstallCommand);
  attach(schedule, scheduleRemoveSpec(), async () => (await import('./commands/schedule.js')).scheduleRemoveCommand);
  attach(schedule, scheduleStatusSpec(), async () => (await import('./commands/schedule.js')).scheduleStatusCommand);

  attach(program, statusSpec(), async () => (await import('./commands/status.js')).statusCommand);

  attach(program, historySpec(), async () => (await import('./commands/history.js')).historyCommand);

  attach(program, versionsSpec(), async () => (await import('./commands/history.js')).versionsCommand);

  attach(program, restoreSpec(), async () => (await import('./commands/download.js')).restoreCommand);

  attach(program, pruneSpec(), async () => (await import('./commands/prune.js')).pruneCommand);

  attach(program, checkSpec(), async () => (await import('./commands/check.js')).checkCommand);

  return program;
}

async function report(error: unknown): Promise<number> {
  if (error instanceof CommanderError) {
    // Help and version end with code 0; commander already printed any message.
    if (error.exitCode === 0) return ExitCode.ok;
    return ExitCode.usage;
  }
  applyColourChoice(undefined);
  const { chalkStderr: chalk } = await import('chalk');
  if (error instanceof PoofError) {
    const hint = error.hint ? `; ${error.hint}` : '';
    process.stderr.write(`${chalk.red('poof:')} ${error.message}${hint}\n`);
    for (const line of error.details) process.stderr.write(`${chalk.red('poof:')} ${line}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${chalk.red('poof: unexpected error:')} ${message}\n`);
  if (process.env.POOF_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('poof: this is a bug in poof; run again with POOF_DEBUG=1 for details and report it\n');
  return ExitCode.runFailed;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return exitCode;
  } catch (error) {
    return report(error);
  }
}
