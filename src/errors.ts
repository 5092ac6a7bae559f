/**
 * Exit codes are part of poof's interface: scripts and schedulers branch on them.
 * Keep this table in sync with the README.
 */
export const ExitCode = {
  ok: 0,
  runFailed: 1,
  usage: 2,
  config: 3,
  verifyFailed: 4,
  locked: 5,
  rcloneMissing: 6,
  /** Everything was copied but files that kept changing while read (restic uses 3 for the same). */
  partial: 7,
  sighup: 129,
  sigint: 130,
  sigterm: 143,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: one clear line, never a stack trace. */
export class PoofError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  /** Further lines, e.g. every other problem found in a config file. */
  readonly details: string[];
  constructor(message: string, exitCode: number, hint?: string, details: string[] = []) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
    this.details = details;
  }
}

export class UsageError extends PoofError {
  constructor(message: string, hint?: string, details?: string[]) {
    super(message, ExitCode.usage, hint, details);
  }
}

export class ConfigError extends PoofError {
  constructor(message: string, hint?: string, details?: string[]) {
    super(message, ExitCode.config, hint, details);
  }
}

export class RcloneMissingError extends PoofError {
  constructor(message: string, hint?: string, details?: string[]) {
    super(message, ExitCode.rcloneMissing, hint, details);
  }
}

export class RunFailedError extends PoofError {
  constructor(message: string, hint?: string, details?: string[]) {
    super(message, ExitCode.runFailed, hint, details);
  }
}

export class LockedError extends PoofError {
  constructor(message: string, hint?: string, details?: string[]) {
    super(message, ExitCode.locked, hint, details);
  }
}

/** Ctrl-C at a prompt: the same as a signal, exit 130; nothing was changed. */
export class CancelledError extends PoofError {
  constructor(message = 'cancelled; nothing was changed') {
    super(message, ExitCode.sigint);
  }
}

/** A "no" at a confirmation: nothing was done, exit 1. */
export class DeclinedError extends PoofError {
  constructor(message: string) {
    super(message, ExitCode.runFailed);
  }
}
